// GC pause durations for the `v8js.gc.duration` histogram, aggregated in native memory by V8's
// GC callbacks, so that no JavaScript object is made per collection.
//
// Why not Node's PerformanceObserver('gc'), which @opentelemetry/instrumentation-runtime-node
// uses: for every GC, Node (v24, lib/internal/perf/observe.js `observerCallback`) builds the entry
// with deprecated top-level `kind` and `flags` accessors (DEP0152), four `util.deprecate()`
// wrappers each given a prototype of its own with `Object.setPrototypeOf`. V8 allocates the maps
// this creates in old space: about 4.3 KB of old-space garbage per GC, which under load (tens of
// scavenges a second) grew the service's heap, and RSS, by 11 % in a minute (docs/benchmark.md,
// session 16). Here a GC costs two clock reads and a few additions.
//
// Semantics follow Node's own GC tracking (src/node_perf.cc): a GC is timed from V8's prologue
// callback to the epilogue callback of the same type, nested callbacks of other types are
// ignored, and the kinds are Node's: major (mark-sweep-compact), minor (scavenge, and minor
// mark-sweep), incremental (incremental marking) and weakcb (weak callbacks).
//
// Layout of the array `start()` returns: one row per kind (major, minor, incremental, weakcb), each
// [count, sum of seconds, min, max, bucket counts...] with bounds.length + 1 buckets, upper bounds
// inclusive (`le`), the last one +Inf.
#include <node.h>
#include <uv.h>
#include <v8.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

namespace {

constexpr int kKinds = 4;
constexpr int kHeader = 4;  // count, sum, min, max

struct Recorder {
  v8::Isolate* isolate;
  std::vector<double> bounds;
  std::shared_ptr<v8::BackingStore> store;  // the array's memory, kept while callbacks run
  double* rows;
  size_t width;  // doubles per row
  uint64_t start = 0;
  int current = 0;  // the GC type being timed, 0 when none
  bool stopped = false;
};

int KindOf(v8::GCType type) {
  switch (type) {
    case v8::kGCTypeMarkSweepCompact:
      return 0;
    case v8::kGCTypeScavenge:
    case v8::kGCTypeMinorMarkSweep:
      return 1;
    case v8::kGCTypeIncrementalMarking:
      return 2;
    case v8::kGCTypeProcessWeakCallbacks:
      return 3;
    default:
      return -1;
  }
}

void Prologue(v8::Isolate*, v8::GCType type, v8::GCCallbackFlags, void* data) {
  auto* r = static_cast<Recorder*>(data);
  if (r->current != 0) return;
  r->current = type;
  r->start = uv_hrtime();
}

void Epilogue(v8::Isolate*, v8::GCType type, v8::GCCallbackFlags, void* data) {
  auto* r = static_cast<Recorder*>(data);
  if (r->current != static_cast<int>(type)) return;
  r->current = 0;
  const int kind = KindOf(type);
  if (kind < 0) return;
  const double seconds = static_cast<double>(uv_hrtime() - r->start) / 1e9;
  double* row = r->rows + kind * r->width;
  row[0] += 1;
  row[1] += seconds;
  row[2] = std::min(row[2], seconds);
  row[3] = std::max(row[3], seconds);
  size_t b = 0;
  while (b < r->bounds.size() && seconds > r->bounds[b]) b++;
  row[kHeader + b] += 1;
}

void Detach(Recorder* r) {
  if (r->stopped) return;
  r->stopped = true;
  r->isolate->RemoveGCPrologueCallback(Prologue, r);
  r->isolate->RemoveGCEpilogueCallback(Epilogue, r);
}

// The environment is going away (process exit, a worker ending): stop and free.
void Cleanup(void* data) {
  auto* r = static_cast<Recorder*>(data);
  Detach(r);
  delete r;
}

void Stop(const v8::FunctionCallbackInfo<v8::Value>& args) {
  auto* r = static_cast<Recorder*>(args.Data().As<v8::External>()->Value());
  if (r->stopped) return;
  Detach(r);
  // Freed at environment cleanup, not here: the hook still holds the pointer.
}

// start(bounds: Float64Array): { rows: Float64Array, stop(): void }
void Start(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  if (args.Length() < 1 || !args[0]->IsFloat64Array()) {
    isolate->ThrowException(v8::Exception::TypeError(
        v8::String::NewFromUtf8Literal(isolate, "start(bounds): bounds must be a Float64Array")));
    return;
  }
  v8::Local<v8::Float64Array> bounds = args[0].As<v8::Float64Array>();
  auto* r = new Recorder();
  r->isolate = isolate;
  r->bounds.resize(bounds->Length());
  bounds->CopyContents(r->bounds.data(), r->bounds.size() * sizeof(double));
  r->width = kHeader + r->bounds.size() + 1;
  const size_t length = kKinds * r->width;
  r->store = v8::ArrayBuffer::NewBackingStore(isolate, length * sizeof(double));
  r->rows = static_cast<double*>(r->store->Data());
  std::memset(r->rows, 0, length * sizeof(double));
  for (int k = 0; k < kKinds; k++) {
    r->rows[k * r->width + 2] = std::numeric_limits<double>::infinity();
    r->rows[k * r->width + 3] = -std::numeric_limits<double>::infinity();
  }
  v8::Local<v8::ArrayBuffer> buffer = v8::ArrayBuffer::New(isolate, r->store);
  isolate->AddGCPrologueCallback(Prologue, r);
  isolate->AddGCEpilogueCallback(Epilogue, r);
  node::AddEnvironmentCleanupHook(isolate, Cleanup, r);

  v8::Local<v8::Object> result = v8::Object::New(isolate);
  v8::Local<v8::Function> stop;
  if (!v8::Function::New(context, Stop, v8::External::New(isolate, r)).ToLocal(&stop)) return;
  if (result->Set(context, v8::String::NewFromUtf8Literal(isolate, "rows"), v8::Float64Array::New(buffer, 0, length)).IsNothing()) return;
  if (result->Set(context, v8::String::NewFromUtf8Literal(isolate, "stop"), stop).IsNothing()) return;
  args.GetReturnValue().Set(result);
}

}  // namespace

// Context-aware: loadable in worker threads and in more than one environment.
NODE_MODULE_INIT() {
  v8::Isolate* isolate = context->GetIsolate();
  v8::Local<v8::Function> start;
  if (!v8::Function::New(context, Start).ToLocal(&start)) return;
  exports->Set(context, v8::String::NewFromUtf8Literal(isolate, "start"), start).Check();
  exports->Set(context, v8::String::NewFromUtf8Literal(isolate, "kinds"),
               v8::Integer::New(isolate, kKinds)).Check();
}
