// A JSON reader for the one body shape nearly every `POST /predict` has, straight from the
// request's bytes into the model's float32 input: `{"features": ROW}` or `{"instances": [ROW, ...]}`,
// where ROW is `{"features": FEATS}` or FEATS, and FEATS an object of the model's feature names
// (each once) or an array of its width, with JSON numbers as values.
//
// Why: `JSON.parse` builds a JavaScript object per row and a property per value, only for the
// row reader to copy the values into a Float32Array and drop the objects. For a 64-row batch of
// named rows (49 KB) that was 45 % of the request's CPU (docs/benchmark.md, session 17).
//
// It never decides an error. Whatever is not that shape exactly (malformed JSON, a duplicate or
// unknown key, a missing feature, a non-number, an escape in a key, a number JavaScript would
// read as Infinity, too many rows, a byte-order mark...) makes `parse` return -1, and the caller
// runs the JavaScript path (JSON.parse, the duplicate check, the row reader), which gives the
// body the answer it always had, 400 or 422 with its details. So what this accepts must be
// exactly what that path accepts and read to the same floats: test/native-rows.test.ts checks
// both on generated and mutated bodies.
//
// Numbers are read as JavaScript reads them (the nearest double, then rounded to float32 as a
// Float32Array store does): digits that fit 2^53 with a power of ten up to 22 are one exact
// multiplication or division (Clinger's fast path: one correctly rounded operation); anything
// else goes to std::from_chars, which rounds correctly too.
#include <node_api.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <system_error>
#include <vector>

namespace {

struct Parser {
  std::vector<std::string> names;  // the model's feature names, UTF-8, in model order
  size_t width = 0;
  uint32_t max_rows = 0;
  // The feature index at each position of the previous named row: clients send their keys in one
  // order, so a byte comparison with that name nearly always finds a key without a search.
  std::vector<int32_t> last_order;
  std::vector<uint8_t> seen;
};

using Byte = uint8_t;

inline void SkipSpace(const Byte*& p, const Byte* end) {
  while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) ++p;
}

// A string without escapes or control characters (JSON forbids raw ones; escapes go to the
// JavaScript path). On success `p` is past the closing quote.
inline bool ReadString(const Byte*& p, const Byte* end, const Byte*& s, size_t& n) {
  if (p >= end || *p != '"') return false;
  s = ++p;
  for (; p < end; ++p) {
    Byte c = *p;
    if (c == '"') {
      n = static_cast<size_t>(p - s);
      ++p;
      return true;
    }
    if (c == '\\' || c < 0x20) return false;
  }
  return false;
}

inline bool Is(const Byte* s, size_t n, const char* lit, size_t len) { return n == len && memcmp(s, lit, len) == 0; }

// The colon after a key, with the space around it.
inline bool ReadColon(const Byte*& p, const Byte* end) {
  SkipSpace(p, end);
  if (p >= end || *p != ':') return false;
  ++p;
  SkipSpace(p, end);
  return true;
}

constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                             1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

inline bool IsDigit(Byte c) { return c >= '0' && c <= '9'; }

// Stores a double as a Float32Array does (round to nearest). Beyond float's range, which a
// conversion in C++ leaves undefined, the JavaScript path decides.
inline bool Store(double v, float* slot) {
  if (!(std::fabs(v) <= 3.4028234663852886e38)) return false;
  *slot = static_cast<float>(v);
  return true;
}

// A JSON number (RFC 8259 grammar, exactly) as the nearest double; false for anything else, and
// for a value from_chars reports out of range (past double's range, where JavaScript reads
// Infinity, or under it): the JavaScript path reads those.
inline bool ReadNumber(const Byte*& p, const Byte* end, double& out) {
  const Byte* start = p;
  bool negative = false;
  if (p < end && *p == '-') {
    negative = true;
    ++p;
  }
  if (p >= end) return false;
  uint64_t mantissa = 0;
  int digits = 0;      // significant digits taken into `mantissa`
  int exponent = 0;    // power of ten to apply to `mantissa`
  bool exact = true;   // every digit fitted
  if (*p == '0') {
    ++p;
  } else if (*p >= '1' && *p <= '9') {
    while (p < end && IsDigit(*p)) {
      if (digits < 19) {
        mantissa = mantissa * 10 + (*p - '0');
        if (mantissa != 0) ++digits;
      } else {
        ++exponent;
        if (*p != '0') exact = false;
      }
      ++p;
    }
  } else {
    return false;
  }
  if (p < end && *p == '.') {
    ++p;
    if (p >= end || !IsDigit(*p)) return false;
    while (p < end && IsDigit(*p)) {
      if (digits < 19) {
        mantissa = mantissa * 10 + (*p - '0');
        if (mantissa != 0) ++digits;
        --exponent;
      } else if (*p != '0') {
        exact = false;
      }
      ++p;
    }
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    ++p;
    bool negative_exp = false;
    if (p < end && (*p == '+' || *p == '-')) negative_exp = *p++ == '-';
    if (p >= end || !IsDigit(*p)) return false;
    int e = 0;
    while (p < end && IsDigit(*p)) {
      if (e < 100000) e = e * 10 + (*p - '0');
      ++p;
    }
    exponent += negative_exp ? -e : e;
  }
  if (exact && mantissa <= (uint64_t{1} << 53) && exponent >= -22 && exponent <= 22) {
    double m = static_cast<double>(mantissa);
    double v = exponent < 0 ? m / kPow10[-exponent] : m * kPow10[exponent];
    out = negative ? -v : v;
    return true;
  }
  double v = 0;
  auto [ptr, ec] = std::from_chars(reinterpret_cast<const char*>(start), reinterpret_cast<const char*>(p), v);
  if (ec != std::errc() || ptr != reinterpret_cast<const char*>(p) || !std::isfinite(v)) return false;
  out = v;
  return true;
}

// FEATS as an array: exactly `width` numbers.
bool ReadArrayRow(Parser& parser, const Byte*& p, const Byte* end, float* out) {
  ++p;  // '['
  SkipSpace(p, end);
  for (size_t j = 0; j < parser.width; ++j) {
    double v;
    if (!ReadNumber(p, end, v) || !Store(v, out + j)) return false;
    SkipSpace(p, end);
    if (p >= end) return false;
    if (j + 1 < parser.width) {
      if (*p != ',') return false;
      ++p;
      SkipSpace(p, end);
    }
  }
  if (p >= end || *p != ']') return false;
  ++p;
  return true;
}

// FEATS as an object: every feature name once, nothing else.
bool ReadNamedRow(Parser& parser, const Byte*& p, const Byte* end, float* out) {
  ++p;  // '{'
  std::memset(parser.seen.data(), 0, parser.width);
  size_t count = 0;
  SkipSpace(p, end);
  for (;;) {
    int32_t j = -1;
    // The name the previous row had here, compared in place: it has no quote, backslash or control
    // character (create() checks), so its bytes and a closing quote are the whole key.
    if (count < parser.width && parser.last_order[count] >= 0) {
      const std::string& name = parser.names[parser.last_order[count]];
      size_t len = name.size();
      if (p + len + 1 < end && *p == '"' && p[len + 1] == '"' && memcmp(p + 1, name.data(), len) == 0) {
        j = parser.last_order[count];
        p += len + 2;
      }
    }
    if (j < 0) {
      const Byte* key;
      size_t n;
      if (!ReadString(p, end, key, n)) return false;
      for (size_t k = 0; k < parser.width; ++k) {
        if (Is(key, n, parser.names[k].data(), parser.names[k].size())) {
          j = static_cast<int32_t>(k);
          break;
        }
      }
      if (j < 0) return false;
      if (count < parser.width) parser.last_order[count] = j;
    }
    if (parser.seen[j]) return false;
    parser.seen[j] = 1;
    ++count;
    if (!ReadColon(p, end)) return false;
    double v;
    if (!ReadNumber(p, end, v) || !Store(v, out + j)) return false;
    SkipSpace(p, end);
    if (p >= end) return false;
    if (*p == '}') {
      ++p;
      return count == parser.width;
    }
    if (*p != ',') return false;
    ++p;
    SkipSpace(p, end);
  }
}

bool ReadFeatures(Parser& parser, const Byte*& p, const Byte* end, float* out) {
  if (p >= end) return false;
  if (*p == '[') return ReadArrayRow(parser, p, end, out);
  if (*p == '{') return ReadNamedRow(parser, p, end, out);
  return false;
}

// ROW: `{"features": FEATS}` or FEATS.
bool ReadRow(Parser& parser, const Byte*& p, const Byte* end, float* out) {
  if (p >= end) return false;
  if (*p == '{') {
    const Byte* q = p + 1;
    SkipSpace(q, end);
    const Byte* key;
    size_t n;
    if (ReadString(q, end, key, n) && Is(key, n, "features", 8)) {
      if (!ReadColon(q, end) || !ReadFeatures(parser, q, end, out)) return false;
      SkipSpace(q, end);
      if (q >= end || *q != '}') return false;  // a second key: the JavaScript path names it
      p = q + 1;
      return true;
    }
  }
  return ReadFeatures(parser, p, end, out);
}

// The whole body: the row count of a batch, 0 for a single row, -1 for "ask JavaScript".
int32_t ParseBody(Parser& parser, const Byte* p, const Byte* end, float* out) {
  SkipSpace(p, end);
  if (p >= end || *p != '{') return -1;
  ++p;
  SkipSpace(p, end);
  const Byte* key;
  size_t n;
  if (!ReadString(p, end, key, n) || !ReadColon(p, end)) return -1;
  int32_t result;
  if (Is(key, n, "features", 8)) {
    if (!ReadFeatures(parser, p, end, out)) return -1;
    result = 0;
  } else if (Is(key, n, "instances", 9)) {
    if (p >= end || *p != '[') return -1;
    ++p;
    SkipSpace(p, end);
    uint32_t rows = 0;
    for (;;) {
      if (rows == parser.max_rows) return -1;  // too many: a 422 from the JavaScript path
      if (!ReadRow(parser, p, end, out + static_cast<size_t>(rows) * parser.width)) return -1;
      ++rows;
      SkipSpace(p, end);
      if (p >= end) return -1;
      if (*p == ']') {
        ++p;
        break;
      }
      if (*p != ',') return -1;
      ++p;
      SkipSpace(p, end);
    }
    result = static_cast<int32_t>(rows);
  } else {
    return -1;
  }
  SkipSpace(p, end);
  if (p >= end || *p != '}') return -1;  // another key at the root
  ++p;
  SkipSpace(p, end);
  return p == end ? result : -1;
}

napi_value Throw(napi_env env, const char* message) {
  napi_throw_type_error(env, nullptr, message);
  return nullptr;
}

// parse(body: ArrayBuffer | ArrayBufferView, out: Float32Array): number
napi_value Parse(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  void* data;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, &data) != napi_ok || argc < 2) return Throw(env, "parse(body, out)");
  Parser& parser = *static_cast<Parser*>(data);
  const Byte* bytes = nullptr;
  size_t length = 0;
  bool is_buffer = false;
  napi_is_arraybuffer(env, argv[0], &is_buffer);
  if (is_buffer) {
    void* raw;
    if (napi_get_arraybuffer_info(env, argv[0], &raw, &length) != napi_ok) return Throw(env, "body: unreadable ArrayBuffer");
    bytes = static_cast<const Byte*>(raw);
  } else {
    napi_typedarray_type type;
    void* raw;
    napi_value ab;
    size_t offset;
    if (napi_get_typedarray_info(env, argv[0], &type, &length, &raw, &ab, &offset) != napi_ok || type != napi_uint8_array) {
      return Throw(env, "body must be an ArrayBuffer or a Uint8Array");
    }
    bytes = static_cast<const Byte*>(raw);
  }
  napi_typedarray_type out_type;
  size_t out_length;
  void* out_raw;
  napi_value out_ab;
  size_t out_offset;
  if (napi_get_typedarray_info(env, argv[1], &out_type, &out_length, &out_raw, &out_ab, &out_offset) != napi_ok || out_type != napi_float32_array ||
      out_length < static_cast<size_t>(parser.max_rows) * parser.width) {
    return Throw(env, "out must be a Float32Array of maxRows × features");
  }
  int32_t rows = length == 0 ? -1 : ParseBody(parser, bytes, bytes + length, static_cast<float*>(out_raw));
  napi_value result;
  napi_create_int32(env, rows, &result);
  return result;
}

void Finalize(napi_env, void* data, void*) { delete static_cast<Parser*>(data); }

// create(names: string[], maxRows: number): { parse }
napi_value Create(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 2) return Throw(env, "create(names, maxRows)");
  bool is_array = false;
  napi_is_array(env, argv[0], &is_array);
  if (!is_array) return Throw(env, "names must be an array of strings");
  uint32_t count;
  napi_get_array_length(env, argv[0], &count);
  uint32_t max_rows;
  if (napi_get_value_uint32(env, argv[1], &max_rows) != napi_ok || max_rows == 0) return Throw(env, "maxRows must be a positive integer");
  auto* parser = new Parser();
  for (uint32_t i = 0; i < count; ++i) {
    napi_value item;
    size_t len;
    napi_get_element(env, argv[0], i, &item);
    if (napi_get_value_string_utf8(env, item, nullptr, 0, &len) != napi_ok) {
      delete parser;
      return Throw(env, "names must be an array of strings");
    }
    std::string name(len, '\0');
    napi_get_value_string_utf8(env, item, name.data(), len + 1, &len);
    for (unsigned char c : name) {
      if (c == '"' || c == '\\' || c < 0x20) {
        delete parser;
        return Throw(env, "a feature name with a quote, a backslash or a control character: read such models with JSON.parse");
      }
    }
    parser->names.push_back(std::move(name));
  }
  parser->width = parser->names.size();
  parser->max_rows = max_rows;
  parser->last_order.assign(parser->width, -1);
  parser->seen.assign(parser->width, 0);
  napi_value fn;
  napi_create_function(env, "parse", NAPI_AUTO_LENGTH, Parse, parser, &fn);
  napi_add_finalizer(env, fn, parser, Finalize, nullptr, nullptr);
  napi_value object;
  napi_create_object(env, &object);
  napi_set_named_property(env, object, "parse", fn);
  return object;
}

napi_value Init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "create", NAPI_AUTO_LENGTH, Create, nullptr, &fn);
  napi_set_named_property(env, exports, "create", fn);
  return exports;
}

}  // namespace

NAPI_MODULE_INIT() { return Init(env, exports); }
