/* A co-resident preload: does nothing but must stay in LD_PRELOAD under the shim. */
int lokt_test_foo_loaded = 1;
