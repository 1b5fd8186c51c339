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
 * 415 for a body that is not JSON (checked before reading anything: a form or text body is a
 * client mistake, not a parse error), then 413 past `maxBodyBytes`.
 */
export function jsonBodyGuards(maxBodyBytes: number): [MiddlewareHandler, MiddlewareHandler] {
  return [
    async (c, next) => {
      const type = c.req.header('content-type') ?? '';
      if (!JSON_TYPE.test(type)) {
        throw new ApiError(415, 'unsupported_media_type', `expected Content-Type: application/json, got '${type || '(none)'}'`, {
          field: 'content-type',
        });
      }
      await next();
    },
    bodyLimit({
      maxSize: maxBodyBytes,
      onError: () => {
        throw new ApiError(413, 'payload_too_large', `the request body exceeds ${maxBodyBytes} bytes`, { max_bytes: maxBodyBytes });
      },
    }),
  ];
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
