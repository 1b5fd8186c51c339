import { describe, expect, it } from 'vitest';
import { ConfigError, loadServiceConfig, loadTelemetryConfig, PROJECT_ROOT } from '../src/config.ts';

describe('service config', () => {
  it('has working defaults with the bundled model', () => {
    const c = loadServiceConfig({});
    expect(c.port).toBe(8000);
    expect(c.maxBatch).toBe(1024);
    expect(c.maxBodyBytes).toBe(1_048_576);
    expect(c.modelPath).toBe(`${PROJECT_ROOT}/models/breast-cancer-v1.0.0.onnx`);
    expect(c.modelCardPath).toBe(`${PROJECT_ROOT}/models/breast-cancer-v1.0.0.card.json`);
    expect(c.faults.enabled).toBe(false);
    expect(c.metricsWarmupRenders).toBe(1000);
    expect(loadServiceConfig({ METRICS_WARMUP_RENDERS: '0' }).metricsWarmupRenders).toBe(0);
    expect(c.microBatch).toEqual({ maxRows: 64, mode: 'adaptive' });
    expect(loadServiceConfig({ MICRO_BATCH_MAX_ROWS: '0', MICRO_BATCH_MODE: 'Turn' }).microBatch).toEqual({ maxRows: 0, mode: 'turn' });
  });

  it('rejects invalid values naming the variable and the form expected', () => {
    const bad: Array<[Record<string, string>, string]> = [
      [{ PORT: '70000' }, 'PORT'],
      [{ PORT: '-1' }, 'PORT'],
      [{ MAX_BATCH: '1.5' }, 'MAX_BATCH'],
      [{ MAX_BODY_BYTES: 'lots' }, 'MAX_BODY_BYTES'],
      [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
      [{ FAULT_INJECTION_ENABLED: '1' }, 'FAULT_INJECTION_ENABLED'],
      [{ METRICS_WARMUP_RENDERS: '-1' }, 'METRICS_WARMUP_RENDERS'],
      [{ MICRO_BATCH_MAX_ROWS: 'many' }, 'MICRO_BATCH_MAX_ROWS'],
      [{ MICRO_BATCH_MODE: 'timer' }, 'MICRO_BATCH_MODE'],
    ];
    for (const [env, variable] of bad) {
      expect(() => loadServiceConfig(env)).toThrow(ConfigError);
      try {
        loadServiceConfig(env);
      } catch (err) {
        expect((err as ConfigError).variable).toBe(variable);
        expect((err as Error).message).toMatch(new RegExp(`^invalid ${variable}=".*": expected .+`));
      }
    }
  });
});

describe('telemetry config (standard OTEL_* variables)', () => {
  it('defaults to the Prometheus exporter on 9464 and no traces, unlike the SDK default of otlp', () => {
    const c = loadTelemetryConfig({});
    expect(c.metricsExporters).toEqual(['prometheus']);
    expect(c.tracesExporters).toEqual(['none']);
    expect(c.prometheusPort).toBe(9464);
    expect(c.serviceName).toBe('inference-api');
    expect(c.sdkDisabled).toBe(false);
    expect(c.metricsProtocol).toBe('http/protobuf');
  });

  it('parses lists, protocols and resource attributes', () => {
    const c = loadTelemetryConfig({
      OTEL_METRICS_EXPORTER: ' Prometheus , otlp ',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/json',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod,team=ml%20platform,service.name=from-attrs',
    });
    expect(c.metricsExporters).toEqual(['prometheus', 'otlp']);
    expect(c.metricsProtocol).toBe('http/json');
    expect(c.tracesProtocol).toBe('grpc');
    expect(c.resourceAttributes).toEqual({ 'deployment.environment': 'prod', team: 'ml platform', 'service.name': 'from-attrs' });
    expect(c.serviceName).toBe('from-attrs');
    expect(loadTelemetryConfig({ OTEL_SERVICE_NAME: 'svc', OTEL_RESOURCE_ATTRIBUTES: 'service.name=x' }).serviceName).toBe('svc');
  });

  it('reads the trace sampler (default parentbased_always_on) and its ratio', () => {
    expect(loadTelemetryConfig({}).tracesSampler).toEqual({ name: 'parentbased_always_on', ratio: 1 });
    expect(loadTelemetryConfig({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' }).tracesSampler).toEqual({
      name: 'parentbased_traceidratio',
      ratio: 0.1,
    });
    expect(() => loadTelemetryConfig({ OTEL_TRACES_SAMPLER_ARG: '2' })).toThrow(/OTEL_TRACES_SAMPLER_ARG/);
    expect(() => loadTelemetryConfig({ OTEL_TRACES_SAMPLER: 'sometimes' })).toThrow(/OTEL_TRACES_SAMPLER/);
  });

  it('reads the batch span processor settings (OTEL_BSP_*), with the spec defaults', () => {
    expect(loadTelemetryConfig({}).batchSpanProcessor).toEqual({ scheduledDelayMillis: 5000, exportTimeoutMillis: 30_000, maxQueueSize: 2048, maxExportBatchSize: 512 });
    expect(
      loadTelemetryConfig({ OTEL_BSP_SCHEDULE_DELAY: '1000', OTEL_BSP_EXPORT_TIMEOUT: '2000', OTEL_BSP_MAX_QUEUE_SIZE: '100', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '10' }).batchSpanProcessor,
    ).toEqual({ scheduledDelayMillis: 1000, exportTimeoutMillis: 2000, maxQueueSize: 100, maxExportBatchSize: 10 });
    expect(() => loadTelemetryConfig({ OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '0' })).toThrow(/OTEL_BSP_MAX_EXPORT_BATCH_SIZE/);
    expect(() => loadTelemetryConfig({ OTEL_BSP_SCHEDULE_DELAY: 'soon' })).toThrow(/OTEL_BSP_SCHEDULE_DELAY/);
  });

  it('rejects none mixed with others, unknown exporters and bad attributes', () => {
    expect(() => loadTelemetryConfig({ OTEL_METRICS_EXPORTER: 'none,prometheus' })).toThrow(/OTEL_METRICS_EXPORTER/);
    expect(() => loadTelemetryConfig({ OTEL_TRACES_EXPORTER: 'jaeger' })).toThrow(/OTEL_TRACES_EXPORTER/);
    expect(() => loadTelemetryConfig({ OTEL_RESOURCE_ATTRIBUTES: 'novalue' })).toThrow(/OTEL_RESOURCE_ATTRIBUTES/);
    expect(() => loadTelemetryConfig({ OTEL_EXPORTER_PROMETHEUS_PORT: '99999' })).toThrow(/OTEL_EXPORTER_PROMETHEUS_PORT/);
  });
});

describe('process.env', () => {
  it('is read only by src/config.ts', async () => {
    const { execFileSync } = await import('node:child_process');
    const hits = execFileSync('grep', ['-rln', 'process\\.env', 'src', 'telemetry'], { cwd: PROJECT_ROOT, encoding: 'utf8' })
      .trim()
      .split('\n');
    expect(hits).toEqual(['src/config.ts']);
  });
});
