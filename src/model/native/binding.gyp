# Built by scripts/build-native.ts (run by `npm ci`/`npm install`) into build/Release/row_parser.node.
{
  "targets": [
    {
      "target_name": "row_parser",
      "sources": ["row_parser.cc"],
      "cflags_cc": ["-O2"]
    }
  ]
}
