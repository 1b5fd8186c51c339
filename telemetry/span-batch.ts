/**
 * How long the request tracing wrapper (src/http/request-tracing.ts) keeps finished requests
 * before it makes their spans, all at once; and so how long the tracer's shutdown waits before it
 * flushes the span processors (telemetry/sdk.ts).
 *
 * Why a delay rather than the end of each event-loop turn (setImmediate): under load a turn
 * answers a handful of requests, so the SDK's span code (ids, attribute checks, the span
 * object, the processor) ran a few spans at a time between requests. Batches of 10 ms (about 200
 * spans at 20,000 req/s) keep it hot: loaded at once with the default service
 * (bench/shared-core.ts, 12 × 5 s), the traced service's CPU per request went from 0.904 × and
 * 0.903 × the default's to 0.941 × and 0.937 × (25 ms: 0.925 ×). A span's times are the request's
 * own, noted as it ran, so the delay changes when a span reaches the processor, not what it says;
 * the batch processor then holds it for up to OTEL_BSP_SCHEDULE_DELAY (5 s) anyway.
 */
export const SPAN_BATCH_DELAY_MS = 10;
