/**
 * The pieces of `POST /predict` that any server of this model needs, shared by the app and the
 * benchmark's telemetry-free baseline so the two measure the same work.
 */
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { LoadedModel } from '../model/model.ts';
import type { InputBatch } from '../model/rows.ts';
import { ApiError } from './errors.ts';

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/**
 * One middleware for the body of `POST /predict`: 415 for a body that is not JSON (checked
 * before reading anything: a form or text body is a client mistake, not a parse error), then
 * 413 past `maxBodyBytes`. One middleware rather than two: each layer is an extra async step of
 * Hono's dispatch on every request.
 *
 * A body with a Content-Length (every ordinary client's) is judged by the header alone, which
 * keeps @hono/node-server's fast path: the handler's `c.req.text()` then reads the socket
 * straight into a Buffer. Hono's `bodyLimit` touches `c.req.raw.body`, which makes node-server
 * build a full undici `Request` with a web stream and an AbortController for every request;
 * measured, that was 35 % of the CPU of a single-row prediction (90 → 57 µs per request) and
 * the garbage that made the heap, and RSS, grow under load (210 → 530 MB in 40 s). Chunked
 * bodies, whose size is only known while reading, still go through `bodyLimit`.
 */
export function jsonBodyGuard(maxBodyBytes: number): MiddlewareHandler {
  const tooLarge = () => {
    throw new ApiError(413, 'payload_too_large', `the request body exceeds ${maxBodyBytes} bytes`, { max_bytes: maxBodyBytes });
  };
  const streaming = bodyLimit({ maxSize: maxBodyBytes, onError: tooLarge });
  return (c, next) => {
    const type = c.req.header('content-type') ?? '';
    if (!JSON_TYPE.test(type)) {
      throw new ApiError(415, 'unsupported_media_type', `expected Content-Type: application/json, got '${type || '(none)'}'`, {
        field: 'content-type',
      });
    }
    const length = c.req.header('content-length');
    if (length === undefined || c.req.header('transfer-encoding') !== undefined) return streaming(c, next);
    if (parseInt(length, 10) > maxBodyBytes) tooLarge();
    return next();
  };
}

/** The response body for `scores`, and how many rows got the positive label. */
export function predictionResponse(model: LoadedModel, input: InputBatch, scores: Float32Array): { body: object; positives: number } {
  const { threshold, positive_label: pos, negative_label: neg } = model.card.output;
  if (!input.batch) {
    const p = scores[0]!;
    const positive = p >= threshold;
    return { body: { prediction: p, label: positive ? pos : neg, model_version: model.version }, positives: positive ? 1 : 0 };
  }
  const predictions = new Array(input.rows);
  let positives = 0;
  for (let i = 0; i < input.rows; i++) {
    const p = scores[i]!;
    const positive = p >= threshold;
    if (positive) positives++;
    predictions[i] = { prediction: p, label: positive ? pos : neg };
  }
  return { body: { predictions, model_version: model.version }, positives };
}
