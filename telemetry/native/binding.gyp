# Built by scripts/build-native.ts (run by `npm ci`/`npm install`) into build/Release/gc_stats.node.
{
  "targets": [
    {
      "target_name": "gc_stats",
      "sources": ["gc_stats.cc"],
      "cflags_cc": ["-O2", "-Wno-cast-function-type"]
    }
  ]
}
