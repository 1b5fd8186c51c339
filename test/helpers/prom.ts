/** A small client for the Prometheus HTTP API. */

/** One series of a query result. */
export interface PromSeries {
  readonly metric: Record<string, string>;
  readonly value: number;
}

/** Runs an instant query; throws on an error status. */
export async function query(base: string, expr: string, time?: number): Promise<PromSeries[]> {
  const params = new URLSearchParams({ query: expr });
  if (time !== undefined) params.set('time', String(time));
  const res = await fetch(`${base}/api/v1/query?${params}`);
  const body = (await res.json()) as { status: string; error?: string; data: { resultType: string; result: any } };
  if (body.status !== 'success') throw new Error(`query ${expr} failed: ${body.error}`);
  if (body.data.resultType === 'scalar') return [{ metric: {}, value: Number(body.data.result[1]) }];
  return (body.data.result as Array<{ metric: Record<string, string>; value: [number, string] }>).map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
}

/** Polls `expr` until `ok(result)` or the timeout. */
export async function waitQuery(base: string, expr: string, ok: (r: PromSeries[]) => boolean, timeoutMs = 30_000): Promise<PromSeries[]> {
  const deadline = Date.now() + timeoutMs;
  let last: PromSeries[] = [];
  for (;;) {
    try {
      last = await query(base, expr);
      if (ok(last)) return last;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${expr}; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
