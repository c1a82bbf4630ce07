import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { SystemClock, type Clock } from './core/clock.js';
import type { ShiftproxyConfig, WorkersSetting } from './core/config-types.js';
import type { Logger } from './core/logger.js';
import { rateLimitedErrorLog } from './core/rate-limited-log.js';
import { proxyListeners } from './core/proxy-listeners.js';
import { formatListen } from './core/types.js';
import { CertificateStore } from './edge/certificate-store.js';
import { createAnalysis } from './analysis/create-analysis.js';
import { ConnectionDispatcher } from './cluster/connection-dispatcher.js';
import type { Fleet } from './cluster/fleet.js';
import { fleetRouting } from './cluster/fleet-routing.js';
import { SingleProcess } from './cluster/single-process.js';
import { resolveWorkerCount } from './cluster/worker-config.js';
import { WorkerFleet } from './cluster/worker-fleet.js';
import { AdminServer } from './control/admin-server.js';
import { registerCoreRoutes } from './control/core-routes.js';
import type { DashboardFeed } from './control/dashboard/dashboard-feed.js';
import { registerDashboardRoutes } from './control/dashboard/dashboard-routes.js';
import { registerConfigRoutes } from './control/config-routes.js';
import { registerRolloutRoutes } from './control/rollout-routes.js';
import { registerWorkerRoutes } from './control/worker-routes.js';
import { registerFleetRoutes } from './control/fleet-routes.js';
import { configHash, serviceConfigHashes } from './fleet/config-hash.js';
import type { EtcdFleet } from './fleet/etcd-fleet.js';
import { FleetCounters, publishCounts, publishMirrorCounts } from './fleet/fleet-counters.js';
import { localCommands, type RolloutCommands } from './fleet/rollout-commands.js';
import { registerFleetMetrics } from './metrics/fleet-metrics.js';
import { loadConfigFile } from './config/load-config.js';
import { registerConfigMetrics } from './metrics/config-metrics.js';
import { ConfigReloader } from './reload/config-reloader.js';
import { HealthRegistry } from './health/health-registry.js';
import { registerAnalysisMetrics } from './metrics/analysis-metrics.js';
import { registerDataPlaneMetrics } from './metrics/data-plane-metrics.js';
import { registerEdgeMetrics } from './metrics/edge-metrics.js';
import { registerBuildInfo } from './metrics/build-metrics.js';
import { registerHealthMetrics } from './metrics/health-metrics.js';
import { registerNotifyMetrics } from './metrics/notify-metrics.js';
import { Notifier } from './notify/notifier.js';
import { registerRolloutMetrics } from './metrics/rollout-metrics.js';
import { registerWorkerMetrics } from './metrics/worker-metrics.js';
import { DataPlane } from './proxy/data-plane.js';
import { HookRunner } from './rollout/hook-runner.js';
import type { AnalysisPort, RoutingPort } from './rollout/ports.js';
import { RolloutController } from './rollout/rollout-controller.js';
import { viewRollout } from './rollout/rollout-view.js';
import { FileStateStore } from './state/file-state-store.js';
import type { StateStore } from './state/state-store.js';

export interface RunningShiftproxy {
  /** The running config (the last one a reload applied). */
  readonly config: ShiftproxyConfig;
  /** Reloads `configFile` (SIGHUP, POST /api/v1/config/reload); null when started without a file. */
  readonly reloader: ConfigReloader | null;
  /**
   * The primary's data plane: the routing the control plane decided and the counters of every
   * process. With `workers` > 1 it does not serve; the workers route from copies of it.
   */
  readonly dataPlane: DataPlane;
  /** How routing changes reach the processes that serve; awaiting one means every process applied it. */
  readonly routing: RoutingPort;
  /** The processes that serve: this one, or its workers. */
  readonly fleet: Fleet;
  /** This instance's membership in a fleet of proxies (`state.store: etcd`); null with a state file. */
  readonly peers: EtcdFleet | null;
  /** The worker processes; null with `workers: 1`. */
  readonly workers: WorkerFleet | null;
  /** Active checks and outlier detection; subscribe to slot availability here. */
  readonly health: HealthRegistry;
  readonly controller: RolloutController;
  readonly admin: AdminServer;
  /** Rollout notifications (`notify`): counts per target; idle() waits for deliveries. */
  readonly notifier: Notifier;
  /** The dashboard's live feed (GET /api/v1/events): who is watching, whether it samples. */
  readonly dashboard: DashboardFeed;
  readonly registry: Registry;
  /** The TLS listeners' certificate files (read, checked, watched); null without TLS. */
  readonly certificates: CertificateStore | null;
  /** Bound addresses: the proxy listener first, then test listeners, in config order. */
  readonly proxyAddresses: AddressInfo[];
  readonly adminAddress: AddressInfo;
  /** The last value each alarm of a service measured (empty when nothing was evaluated yet). */
  analysisValues(service: string): ReadonlyMap<string, number>;
  /** The last check of each alarm: its value as measured (Infinity included), null when it could not measure. */
  analysisChecks(service: string): ReadonlyMap<string, number | null>;
  /**
   * /healthz turns 503 at once; after `server.shutdownDelay` (the listeners serve meanwhile)
   * drains the proxy (up to the configured drain timeout unless given), then closes everything.
   */
  stop(drainTimeoutMs?: number): Promise<{ completed: boolean; cut: number }>;
}

export interface StartOptions {
  logger: Logger;
  /** Collect Node process metrics (off in tests that start many instances). */
  processMetrics?: boolean;
  /** Time for health checks and ejections (tests inject a VirtualClock); the system clock by default. */
  clock?: Clock;
  /** Uniform in [0, 1) for probe jitter; Math.random by default. */
  random?: () => number;
  /** Where rollout state lives; the file named by `state.path` by default. */
  store?: StateStore;
  /** Alarm evaluation for rollouts; by default built from the config (builtin windows or Prometheus). */
  analysis?: AnalysisPort;
  /** The file the config came from; enables reloads (and GET /api/v1/config). */
  configFile?: string;
  /** Overrides the config's `workers` (`run --workers N`). */
  workers?: WorkersSetting;
  /** The worker program; the built one next to this module by default (tests that run the sources point at dist/). */
  workerEntry?: string;
  /** Bounds of the worker protocol (tests shorten them): see WorkerFleetOptions. */
  workerTimeouts?: { ackTimeoutMs?: number; reportIntervalMs?: number };
}

const DEFAULT_WORKER_ENTRY = fileURLToPath(new URL('./cluster/worker-main.js', import.meta.url));

/**
 * The composition root: config -> data plane -> health -> restore state (routing applied) ->
 * metrics -> admin -> first probes -> listen -> resume rollouts.
 */
export async function startShiftproxy(config: ShiftproxyConfig, options: StartOptions): Promise<RunningShiftproxy> {
  const { logger } = options;
  const clock = options.clock ?? new SystemClock();
  const listenerSpecs = proxyListeners(config);
  // Certificates are read and checked before anything starts: one that cannot serve refuses the start.
  const certificates = listenerSpecs.some((s) => s.listener.tls !== undefined) ? new CertificateStore({ config, logger: logger.child({ component: 'tls' }) }) : null;
  const dataPlane = new DataPlane(config, certificates ? { certificates: certificates.current() } : {});
  const registry = new Registry();
  if (options.processMetrics !== false) {
    collectDefaultMetrics({ register: registry });
    // prom-client's *_total gauges break the naming rule promtool checks (a _total suffix is for
    // counters); the same numbers are in nodejs_active_handles{type} and its siblings, summed.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name);
  }
  registerBuildInfo(registry);
  registerDataPlaneMetrics(registry, dataPlane);
  registerEdgeMetrics(registry, dataPlane, certificates);
  // Accept errors can come in floods: one line, then at most one per 10 s carrying the count in between.
  dataPlane.server.onListenerError = rateLimitedErrorLog(logger, 'proxy listener error; still accepting', 10_000);

  // With workers, this process decides and the workers serve: they route from copies of this
  // data plane, pushed to them on every change, and report their counters back into it.
  const workerCount = resolveWorkerCount(options.workers ?? config.workers);
  let currentConfig = config;
  const workers =
    workerCount > 1
      ? new WorkerFleet({
          workers: workerCount,
          entry: options.workerEntry ?? DEFAULT_WORKER_ENTRY,
          model: dataPlane,
          config: () => currentConfig,
          listeners: listenerSpecs.length,
          logger: logger.child({ component: 'workers' }),
          ...options.workerTimeouts,
        })
      : null;
  const fleet: Fleet = workers ?? new SingleProcess(dataPlane);
  const publish = () => void fleet.publish();
  dataPlane.onTargetsChanged(publish);
  dataPlane.onRuntimeReplaced(publish);
  const routing = fleetRouting(dataPlane, fleet);
  if (certificates) certificates.onChange = (update) => fleet.setCertificates(update);
  const dispatcher = workers
    ? new ConnectionDispatcher({
        addresses: listenerSpecs.map((s) => s.listener.address),
        maxConnections: config.server.maxConnections,
        fleet: workers,
        onListenerError: (err) => {
          dataPlane.server.listenerErrors += 1;
          dataPlane.server.onListenerError(err);
        },
      })
    : null;
  registerWorkerMetrics(registry, fleet, workers);

  // Health: built right after the data plane, so targets with active checks are
  // flagged "pending" before any request can reach them.
  const health = new HealthRegistry(dataPlane, {
    clock,
    random: options.random ?? Math.random,
    logger: logger.child({ component: 'health' }),
  });
  health.onTargetStateChanged(publish);
  registerHealthMetrics(registry, health);

  // Rollouts: persisted state is restored and its routing applied before any listener opens,
  // so a restart mid-rollout serves the same split it had.
  // Analysis: the builtin windows sample the data plane's counters from the start, so stable
  // already has history when a rollout begins.
  // A fleet (state.store: etcd) shares rollout state through etcd; its builtin alarms judge the
  // traffic of every instance, added up.
  const etcdConfig = config.state.store === 'etcd' && !options.store ? config.state.etcd : null;
  const instanceName = config.instance.name || `${hostname()}-${process.pid}`;
  const etcd = etcdConfig ? await import('./fleet/etcd-parts.js') : null;
  const etcdClient = etcd && etcdConfig ? etcd.connectEtcd(etcdConfig) : null;
  const etcdKeys = etcd && etcdConfig ? new etcd.EtcdKeys(etcdConfig.prefix) : null;
  const fleetCounters = etcdConfig ? new FleetCounters({ self: instanceName, startedAt: Date.now() }) : null;
  const analysis = options.analysis
    ? null
    : createAnalysis(config, {
        lookup: (s, slot, role) => {
          const local = dataPlane.runtime(s).counters[slot][role];
          return fleetCounters ? fleetCounters.combined(s, slot, role, local) : local;
        },
        mirrorLookup: (s) => {
          const local = dataPlane.runtime(s).mirrorCounters;
          return fleetCounters ? fleetCounters.combinedMirror(s, local) : local;
        },
        clock,
        ...(workers ? { refresh: () => workers.sync() } : {}),
      });
  // The reloaded config's alarms once a reload applied them (reloader is built below; scrapes come later).
  if (analysis) registerAnalysisMetrics(registry, analysis.evaluator, () => (reloader?.config ?? config).services);
  const analysisPort = options.analysis ?? analysis?.evaluator;

  const etcdStore =
    etcd && etcdClient && etcdKeys && etcdConfig
      ? new etcd.EtcdStateStore({ client: etcdClient, keys: etcdKeys, instance: instanceName, where: etcd.describeEndpoints(etcdConfig) })
      : null;
  const store = options.store ?? etcdStore ?? new FileStateStore(config.state.path);
  let peers: EtcdFleet | null = null;
  try {
    await store.open();
  } catch (err) {
    etcdClient?.close();
    await Promise.all([dataPlane.close(), workers?.close()]);
    throw err;
  }
  const controller = new RolloutController({
    config,
    routing,
    store,
    clock,
    logger: logger.child({ component: 'rollout' }),
    hooks: new HookRunner(logger.child({ component: 'hooks' })),
    health,
    ...(analysisPort ? { analysis: analysisPort } : {}),
    // In a fleet nothing changes rollout state until this instance is elected and caught up.
    ...(etcdStore ? { leadership: { isLeader: () => peers?.isLeader() ?? false } } : {}),
  });
  try {
    await controller.restore();
  } catch (err) {
    etcdClient?.close();
    await Promise.all([store.close(), dataPlane.close(), workers?.close()]);
    throw err;
  }
  let adminUrl = '';
  if (etcd && etcdClient && etcdKeys && etcdStore && etcdConfig && fleetCounters) {
    // Renewals go to one member at a time (see EtcdSession), through a client per endpoint.
    const members = etcdConfig.endpoints.length > 1 ? etcdConfig.endpoints.map((endpoint) => etcd.connectEtcd({ ...etcdConfig, endpoints: [endpoint] })) : [];
    const session = new etcd.EtcdSession({ client: etcdClient, ttlMs: etcdConfig.leaseTtlMs, members, logger: logger.child({ component: 'fleet' }) });
    const election = new etcd.LeaderElection({ client: etcdClient, keys: etcdKeys, session, name: instanceName, logger: logger.child({ component: 'fleet' }) });
    const hashes = serviceConfigHashes(config);
    const incarnation = randomBytes(6).toString('hex');
    const startedAt = Date.now();
    const serviceNames = config.services.map((s) => s.name);
    peers = new etcd.EtcdFleet({
      client: etcdClient,
      keys: etcdKeys,
      session,
      election,
      store: etcdStore,
      controller,
      counters: fleetCounters,
      name: instanceName,
      adminUrl: () => adminUrl,
      serviceHashes: hashes,
      configHash: configHash(hashes),
      readCounters: async () => {
        await fleet.sync();
        return {
          incarnation,
          startedAt,
          counts: publishCounts(serviceNames, (s, slot, role) => dataPlane.runtime(s).counters[slot][role]),
          mirror: publishMirrorCounts(serviceNames, (s) => dataPlane.runtime(s).mirrorCounters),
        };
      },
      publishIntervalMs: Math.min(1000, Math.floor(etcdConfig.leaseTtlMs / 3)),
      commandTimeoutMs: etcdConfig.leaseTtlMs + 5000,
      logger: logger.child({ component: 'fleet' }),
    });
    registerFleetMetrics(registry, peers);
  }
  const commands: RolloutCommands = peers ?? localCommands(controller);
  health.onSlotAvailabilityChanged((event) => {
    // Only a verdict counts: targets still waiting for their first check are not "down".
    if (event.total > 0 && event.available === 0 && event.pending === 0) {
      controller.canaryUnavailable(event.service, event.slot, `the ${event.slot} slot has no healthy target`);
    }
  });
  registerRolloutMetrics(registry, controller);
  const reloader = options.configFile
    ? new ConfigReloader({
        file: options.configFile,
        initial: config,
        load: (file) => loadConfigFile(file),
        // admin is built below; a reload can only come once start-up is done.
        targets: {
          dataPlane: {
            // The workers get the new config with the snapshot the reload produces.
            reconfigure: (services, slotTargets) => {
              currentConfig = { ...currentConfig, services: [...services] };
              dataPlane.reconfigure(services, slotTargets);
            },
          },
          controller,
          ...(analysis ? { analysis } : {}),
          admin: { setTokens: (token, tokens) => admin.setTokens(token, tokens) },
        },
        logger: logger.child({ component: 'config' }),
        applied: async () => {
          if (peers && reloader) {
            const hashes = serviceConfigHashes(reloader.config);
            peers.configChanged(hashes, configHash(hashes));
          }
          await fleet.publish();
        },
      })
    : null;
  if (reloader) registerConfigMetrics(registry, reloader);
  const fleetPeers = peers;
  const running = () => reloader?.config ?? config;
  // Notifications are queued by the transition listener and sent apart from it: a slow webhook never holds a rollout.
  let boundAdmin: AddressInfo | null = null;
  const notifier = new Notifier({
    targets: () => running().notify,
    dashboardUrl: () => dashboardUrl(running(), boundAdmin),
    clock,
    logger: logger.child({ component: 'notify' }),
  });
  controller.onTransition((_service, previous, next) => notifier.transition(previous, next));
  registerNotifyMetrics(registry, notifier);
  const contributors = {
    health: (service: string) => health.describe(service),
    rollout: (service: string) => {
      const record = controller.get(service);
      return record ? viewRollout(record, controller.nextStepAt(service), controller.notDurableReason(service)) : null;
    },
    ...(fleetPeers
      ? {
          fleet: () => {
            const view = fleetPeers.view();
            return { self: view.self, leader: view.leader, degraded: view.degraded, appliedRevision: view.etcd.appliedRevision };
          },
        }
      : {}),
  };

  let draining = false;
  const admin = new AdminServer({ listen: config.admin.listen, token: config.admin.token, tokens: config.admin.tokens, logger });
  registerCoreRoutes(admin.router, { dataPlane, registry, isDraining: () => draining, contributors, beforeScrape: () => fleet.sync() });
  registerRolloutRoutes(admin.router, controller, commands);
  registerWorkerRoutes(admin.router, fleet);
  if (fleetPeers) registerFleetRoutes(admin.router, () => fleetPeers.view());
  if (reloader || certificates) {
    // A reload is answered once every worker serves the reloaded config; the view also says which certificates serve.
    registerConfigRoutes(admin.router, {
      view: () => ({ ...reloader?.view(), ...(certificates ? { tls: certificates.view() } : {}) }),
      ...(reloader ? { reload: (trigger: string) => reloader.reload(trigger) } : {}),
    });
  }
  // The dashboard: GET / (the page) and GET /api/v1/events (its live feed).
  const dashboard = registerDashboardRoutes(admin.router, {
    dataPlane,
    controller,
    health: contributors.health,
    alarms: (service) => running().services.find((s) => s.name === service)?.rollout.analysis.alarms ?? [],
    ...(analysis ? { recentTraffic: (service: string, windowMs: number) => analysis.recentTraffic(service, windowMs) } : {}),
    logger: logger.child({ component: 'dashboard' }),
    ...(fleetPeers ? { fleet: () => fleetPeers.view() } : {}),
  });

  let proxyAddresses: AddressInfo[];
  let adminAddress: AddressInfo;
  try {
    // Wait for each checked target's first probe (bounded by its timeout) before listening,
    // so a start or restart does not answer 503 while health is still unknown.
    await health.start();
    analysis?.start();
    if (workers && dispatcher) {
      // Workers start from the routing the first probes decided, and serve before anyone connects.
      await workers.start();
      proxyAddresses = await dispatcher.listen();
    } else {
      proxyAddresses = await dataPlane.listen();
    }
    adminAddress = await admin.listen();
    adminUrl = `http://${formatListen({ host: reachableHost(adminAddress.address), port: adminAddress.port })}`;
    boundAdmin = adminAddress;
    certificates?.start();
    // Joins the fleet once this instance serves: its record names a working admin URL, and it
    // only campaigns for leadership when it could act on it.
    await peers?.join();
  } catch (err) {
    certificates?.stop();
    await peers?.leave().catch(() => undefined);
    etcdClient?.close();
    await controller.stop();
    await health.stop();
    await analysis?.stop();
    dispatcher?.close();
    await workers?.close();
    await dataPlane.close();
    dashboard.close();
    await admin.close();
    await store.close();
    throw err;
  }
  controller.resumeActive();
  logger.info(
    {
      proxy: proxyAddresses.map(addressText),
      admin: addressText(adminAddress),
      workers: workers ? workers.list().map((w) => w.pid) : undefined,
      services: config.services.map((s) => s.name),
      adminToken: config.admin.token ? 'set' : config.admin.tokens.length > 0 ? 'none' : 'none (loopback only)',
      // Names and roles only: a token itself is never logged.
      adminTokens: config.admin.tokens.length > 0 ? config.admin.tokens.map((t) => `${t.name} (${t.role})`) : undefined,
    },
    'shiftproxy listening',
  );

  let stopping: Promise<{ completed: boolean; cut: number }> | null = null;
  return {
    get config() {
      return reloader?.config ?? config;
    },
    reloader,
    dataPlane,
    routing,
    fleet,
    peers,
    workers,
    health,
    controller,
    admin,
    notifier,
    dashboard,
    registry,
    certificates,
    proxyAddresses,
    adminAddress,
    analysisValues: (service) => analysis?.evaluator.lastValues.get(service) ?? new Map<string, number>(),
    analysisChecks: (service) => analysis?.evaluator.lastChecked.get(service) ?? new Map<string, number | null>(),
    stop(drainTimeoutMs = config.server.drainTimeoutMs) {
      if (stopping) return stopping;
      draining = true;
      // Watchers' streams end now (their pages say so and retry) instead of being cut when the admin server closes.
      dashboard.close();
      stopping = (async () => {
        // No rollout moves while the process goes away; its state is already durable.
        await controller.stop();
        certificates?.stop();
        // Leadership goes at once (the others need not wait out the lease); routing stays as applied.
        await peers?.leave();
        notifier.stop();
        const delayMs = config.server.shutdownDelayMs;
        if (delayMs > 0) {
          // A load balancer polling /healthz sees the 503 and takes this proxy out while every
          // listener (every worker's too) still accepts and serves as before.
          logger.info({ shutdownDelayMs: delayMs }, '/healthz answers 503; still serving until the shutdown delay ends');
          await new Promise<void>((resolve) => clock.setTimeout(resolve, delayMs));
        }
        logger.info({ drainTimeoutMs, inFlight: fleet.inFlight() }, 'draining');
        let result: { completed: boolean; cut: number };
        if (workers && dispatcher) {
          // Every connection accepted so far reaches a worker before the workers drain: none is dropped.
          workers.beginDrain();
          await dispatcher.stopAccepting(drainTimeoutMs);
          result = await workers.drain(drainTimeoutMs);
        } else {
          result = await dataPlane.drain(drainTimeoutMs);
        }
        await health.stop();
        await analysis?.stop();
        await admin.close();
        await workers?.close();
        await dataPlane.close();
        await store.close();
        etcdClient?.close();
        logger.info(result, result.completed ? 'drained' : 'drain deadline reached; remaining connections were cut');
        return result;
      })();
      return stopping;
    },
  };
}

/** A wildcard listen address is reached on this host's name. */
function reachableHost(address: string): string {
  return address === '0.0.0.0' || address === '::' ? hostname() : address;
}

/** Where people open the dashboard: admin.publicUrl, else the admin listener (a wildcard address by this host's name). */
function dashboardUrl(config: ShiftproxyConfig, bound: AddressInfo | null): string {
  if (config.admin.publicUrl) return `${config.admin.publicUrl}/`;
  const port = bound?.port ?? config.admin.listen.port;
  const host = reachableHost(config.admin.listen.host);
  return `http://${formatListen({ host, port })}/`;
}

function addressText(address: AddressInfo): string {
  return formatListen({ host: address.address, port: address.port });
}

