/**
 * compose.yaml and the API's Dockerfile. No Docker engine runs here, so the files are parsed and
 * their properties checked: hardening, users, health checks, pinned images, ports, volumes, and
 * agreement with the Prometheus, Alertmanager and Grafana configuration they mount.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoText, repoYaml } from '../helpers/monitoring.ts';
import { REPO_ROOT } from '../helpers/tools.ts';

const composeText = repoText('compose.yaml');
const compose = repoYaml('compose.yaml');
const services: Record<string, any> = compose.services;
const MONITORING = ['prometheus', 'alertmanager', 'grafana'] as const;
const pkg = JSON.parse(repoText('package.json')) as { scripts: Record<string, string> };

/** The `${VAR:-default}` form, with its default. */
const VAR = /^\$\{[A-Z][A-Z0-9_]*:-([^}]+)\}$/;

function hostPort(mapping: string): string {
  return mapping.slice(0, mapping.lastIndexOf(':'));
}

describe('compose services', () => {
  it('are the API, the three monitoring services and the volume init step', () => {
    expect(Object.keys(services).sort()).toEqual(['alertmanager', 'api', 'grafana', 'prometheus', 'volume-init']);
  });

  it('each have a one-line comment', () => {
    const lines = composeText.split('\n');
    for (const name of Object.keys(services)) {
      const i = lines.indexOf(`  ${name}:`);
      expect(i, name).toBeGreaterThan(0);
      expect(lines[i - 1], name).toMatch(/^ {2}# \S.+$/);
      expect(lines[i - 2], `${name}: one line only`).not.toMatch(/^ {2}#/);
    }
  });

  it('pin every image with an overridable tag, and publish every host port as ${VAR:-default}', () => {
    for (const [name, s] of Object.entries(services)) {
      expect(s.image, name).toBeDefined();
      const tag = s.image.slice(s.image.indexOf(':') + 1);
      const m = VAR.exec(tag);
      expect(m, `${name}: ${s.image}`).not.toBeNull();
      if (name !== 'api') expect(m![1], `${name} pinned`).toMatch(/^v?\d+\.\d+\.\d+$/);
      for (const p of s.ports ?? []) expect(hostPort(p), `${name}: ${p}`).toMatch(VAR);
    }
  });

  it('are all hardened: no capabilities, no privilege escalation', () => {
    for (const [name, s] of Object.entries(services)) {
      expect(s.cap_drop, name).toEqual(['ALL']);
      expect(s.security_opt, name).toContain('no-new-privileges:true');
    }
  });

  it('share the one network mlops-network', () => {
    expect(Object.keys(compose.networks)).toEqual(['mlops-network']);
    for (const name of ['api', ...MONITORING]) expect(services[name].networks, name).toEqual(['mlops-network']);
    expect(services['volume-init'].network_mode).toBe('none');
  });

  it('wait for health through depends_on conditions', () => {
    expect(services.prometheus.depends_on).toEqual({
      'volume-init': { condition: 'service_completed_successfully' },
      alertmanager: { condition: 'service_healthy' },
      api: { condition: 'service_started' },
    });
    expect(services.grafana.depends_on.prometheus).toEqual({ condition: 'service_healthy' });
    expect(services.grafana.depends_on.alertmanager).toEqual({ condition: 'service_healthy' });
    for (const name of Object.keys(services)) {
      for (const [dep, cond] of Object.entries(services[name].depends_on ?? {})) {
        expect(services[dep], `${name} depends on ${dep}`).toBeDefined();
        expect(['service_healthy', 'service_completed_successfully', 'service_started']).toContain((cond as any).condition);
        if ((cond as any).condition === 'service_healthy') expect(services[dep].healthcheck, dep).toBeDefined();
      }
    }
  });

  it('mount only files that exist, read-only', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const v of s.volumes ?? []) {
        if (!v.startsWith('./')) continue;
        const [src, , mode] = v.split(':');
        expect(existsSync(join(REPO_ROOT, src)), `${name}: ${src}`).toBe(true);
        expect(mode, `${name}: ${v}`).toBe('ro');
      }
    }
  });
});

describe('api service', () => {
  const api = services.api;

  it('is built from the Dockerfile and runs unprivileged on a read-only root', () => {
    expect(api.build).toEqual({ context: '.', dockerfile: 'infra/docker/Dockerfile' });
    expect(api.user).toBe('1000:1000');
    expect(api.read_only).toBe(true);
    expect(api.tmpfs.some((t: string) => t.startsWith('/tmp'))).toBe(true);
  });

  it('publishes port 8000, keeps the scrape port on the network, and exports on 0.0.0.0', () => {
    expect(api.ports).toEqual(['${API_PORT:-8000}:8000']);
    expect(api.expose).toEqual(['9464']);
    expect(api.environment.OTEL_EXPORTER_PROMETHEUS_HOST).toBe('0.0.0.0');
    expect(api.environment.OTEL_EXPORTER_PROMETHEUS_PORT).toBe('9464');
    expect(api.environment.PORT).toBe('8000');
  });

  it('is healthy when /ready answers', () => {
    expect(api.healthcheck.test.join(' ')).toContain('http://127.0.0.1:8000/ready');
  });
});

describe('monitoring services', () => {
  it('run as uid 1000, with an init step that hands them their data volumes', () => {
    const init = services['volume-init'];
    expect(init.command.slice(0, 3)).toEqual(['chown', '-R', '1000:1000']);
    expect(init.cap_add).toContain('CHOWN');
    const initMounts = new Map<string, string>(init.volumes.map((v: string) => [v.split(':')[0], v.split(':')[1]]));
    for (const name of MONITORING) {
      const s = services[name];
      expect(s.user, name).toBe('1000:1000');
      expect(s.depends_on['volume-init'], name).toEqual({ condition: 'service_completed_successfully' });
      const named = (s.volumes as string[]).filter((v) => !v.startsWith('./') && !v.startsWith('/'));
      expect(named.length, name).toBe(1);
      const volume = named[0]!.split(':')[0]!;
      expect(Object.keys(compose.volumes), name).toContain(volume);
      expect(init.command, `${name}: ${volume} chowned`).toContain(initMounts.get(volume));
    }
  });

  it('Prometheus keeps 15 days in the prometheus-data volume, serves 9090 and is ready-checked', () => {
    const p = services.prometheus;
    expect(p.image).toMatch(/^prom\/prometheus:/);
    expect(p.command).toContain('--storage.tsdb.retention.time=15d');
    expect(p.command).toContain('--config.file=/etc/prometheus/prometheus.yml');
    expect(p.command).toContain('--storage.tsdb.path=/prometheus');
    expect(p.volumes).toContain('prometheus-data:/prometheus');
    expect(p.volumes).toContain('./infra/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro');
    expect(p.volumes).toContain('./infra/prometheus/rules:/etc/prometheus/rules:ro');
    expect(p.ports).toEqual(['${PROMETHEUS_PORT:-9090}:9090']);
    expect(p.healthcheck.test.join(' ')).toContain('http://localhost:9090/-/ready');
  });

  it('Alertmanager reads its webhook URLs from the secrets its configuration names', () => {
    const am = services.alertmanager;
    expect(am.image).toMatch(/^prom\/alertmanager:/);
    expect(am.command).toContain('--config.file=/etc/alertmanager/alertmanager.yml');
    expect(am.volumes).toContain('./infra/alertmanager/alertmanager.yml:/etc/alertmanager/alertmanager.yml:ro');
    expect(am.healthcheck.test.join(' ')).toContain('/-/ready');
    const files = repoYaml('infra/alertmanager/alertmanager.yml').receivers.flatMap((r: any) => r.webhook_configs.map((w: any) => w.url_file));
    expect(files.map((f: string) => f.replace('/run/secrets/', '')).sort()).toEqual([...am.secrets].sort());
    for (const secret of am.secrets) {
      const m = VAR.exec(compose.secrets[secret].file);
      expect(m, secret).not.toBeNull();
      expect(existsSync(join(REPO_ROOT, m![1]!)), m![1]).toBe(true);
    }
  });

  it('Grafana: admin password from the environment, no anonymous access or sign-up, read-only provisioning', () => {
    const g = services.grafana;
    expect(g.image).toMatch(/^grafana\/grafana:/);
    expect(g.environment.GF_SECURITY_ADMIN_PASSWORD).toBe('${GF_SECURITY_ADMIN_PASSWORD:-changeme}');
    expect(g.environment.GF_AUTH_ANONYMOUS_ENABLED).toBe('false');
    expect(g.environment.GF_USERS_ALLOW_SIGN_UP).toBe('false');
    expect(g.volumes).toContain('./infra/grafana/provisioning:/etc/grafana/provisioning:ro');
    // The provider reads the folder this mounts.
    const provider = repoYaml('infra/grafana/provisioning/dashboards/dashboards.yml').providers[0];
    expect(g.volumes).toContain(`./infra/grafana/dashboards:${provider.options.path}:ro`);
    expect(g.volumes).toContain('grafana-data:/var/lib/grafana');
    expect(g.ports).toEqual(['${GRAFANA_PORT:-3000}:3000']);
  });

  it('agree with the addresses in prometheus.yml and the Grafana datasources', () => {
    const prom = repoYaml('infra/prometheus/prometheus.yml');
    const targets = Object.fromEntries(prom.scrape_configs.map((j: any) => [j.job_name, j.static_configs[0].targets[0]]));
    expect(targets['inference-api']).toBe(`api:${services.api.environment.OTEL_EXPORTER_PROMETHEUS_PORT}`);
    expect(targets['alertmanager']).toBe('alertmanager:9093');
    expect(prom.alerting.alertmanagers[0].static_configs[0].targets).toEqual(['alertmanager:9093']);
    expect(prom.global.scrape_interval).toBe('15s');
    expect(prom.global.evaluation_interval).toBe('15s');
    const ds = repoYaml('infra/grafana/provisioning/datasources/datasources.yml').datasources;
    for (const d of ds) {
      const host = new URL(d.url).hostname;
      expect(services[host], d.url).toBeDefined();
    }
  });
});

describe('Dockerfile', () => {
  const dockerfile = repoText('infra/docker/Dockerfile');
  const instructions = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((l) => l.trim() && !l.trim().startsWith('#'));

  it('is multi-stage on Node 24 slim, the native addons built on the same Node.js with build tools', () => {
    const image = /^ARG NODE_IMAGE=(.+)$/m.exec(dockerfile)?.[1];
    expect(image).toMatch(/^node:24(\.\d+){0,2}-(\w+-)?slim$/);
    // The addon is compiled for the Node.js that runs it: the same version, the full image.
    expect(/^ARG NODE_BUILD_IMAGE=(.+)$/m.exec(dockerfile)?.[1]).toBe(image!.replace(/-slim$/, ''));
    const froms = instructions.filter((l) => l.startsWith('FROM '));
    expect(froms).toEqual(['FROM ${NODE_BUILD_IMAGE} AS deps', 'FROM ${NODE_IMAGE} AS runtime']);
    // npm ci's install script builds it from these; the runtime stage takes the built addon.
    const deps = instructions.slice(0, instructions.indexOf('FROM ${NODE_IMAGE} AS runtime'));
    for (const src of ['scripts/build-native.ts', 'telemetry', 'src/model/native']) expect(deps.some((l) => l.startsWith(`COPY ${src} `)), src).toBe(true);
    expect(instructions).toContain('COPY --from=deps /app/telemetry/native/build/Release/gc_stats.node ./telemetry/native/build/Release/');
    expect(instructions).toContain('COPY --from=deps /app/src/model/native/build/Release/row_parser.node ./src/model/native/build/Release/');
    expect(pkg.scripts.install).toBe('node scripts/build-native.ts');
  });

  it('installs production dependencies only, without the onnxruntime download', () => {
    const install = instructions.find((l) => l.includes('npm ci'));
    expect(install).toMatch(/ONNXRUNTIME_NODE_INSTALL=skip npm ci --omit=dev/);
  });

  it('copies what the service needs and runs as uid 1000', () => {
    for (const src of ['package.json package-lock.json', 'telemetry', 'src', 'models']) {
      expect(instructions.some((l) => l.startsWith(`COPY ${src} `)), src).toBe(true);
    }
    const user = instructions.filter((l) => l.startsWith('USER '));
    expect(user.at(-1)).toBe('USER 1000:1000');
  });

  it('starts the service exactly as `npm start` does', () => {
    const cmd = instructions.filter((l) => l.startsWith('CMD ')).at(-1)!;
    const argv = JSON.parse(cmd.slice(4)) as string[];
    expect(argv.join(' ')).toBe(pkg.scripts.start);
    expect(pkg.scripts.start).toBe('node --max-semi-space-size=16 --no-memory-reducer --import ./telemetry/register.ts src/server.ts');
    // The README starts it with `npm start`, which is this same command.
    expect(repoText('README.md')).toMatch(/npm start/);
  });

  it('sends the builder everything it copies, and nothing else', () => {
    const ignore = repoText('infra/docker/Dockerfile.dockerignore')
      .split('\n')
      .filter((l) => l.trim() && !l.startsWith('#'));
    expect(ignore[0]).toBe('*');
    const allowed = ignore.slice(1).map((l) => l.replace(/^!/, '').replace(/\/$/, ''));
    const copied = instructions
      .filter((l) => l.startsWith('COPY ') && !l.includes('--from='))
      .flatMap((l) => l.split(/\s+/).slice(1, -1));
    expect([...new Set(copied)].sort()).toEqual(allowed.sort());
  });
});
