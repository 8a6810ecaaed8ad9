// Flower, the Celery workers' web UI (issue #22 item 8): `celery.flower`, as the official Helm chart runs it.
import { Testing } from 'cdk8s';
import { AirflowChart, AirflowChartProps, Flower } from '../../lib';
import { podSecurityLevelOf } from '../../lib/security/pod-security';
import { errorOf, find, isAirflow2, parseCfg, synthAirflow } from '../support';
import { findSecretMaterial } from '../support/secret-scan';

const AUTH = { name: 'flower-auth', key: 'basic-auth' };
const synth = (props: AirflowChartProps = {}) => synthAirflow(new AirflowChart(Testing.app(), 'airflow', props), isAirflow2(props));
const cfgOf = (objects: any[]) => parseCfg(find(objects, 'ConfigMap', 'airflow-config').data['airflow.cfg']);
const flowerPod = (objects: any[]) => find(objects, 'Deployment', 'airflow-flower').spec.template.spec;
const policy = (objects: any[], name: string) => objects.find((o) => o.kind === 'NetworkPolicy' && o.metadata.name === name);

const withFlower = synth({ celery: { flower: { basicAuthSecret: AUTH } } });

describe('celery.flower: airflow celery flower, its login from a Secret', () => {
  test('off by default: no Flower object, no flower_port with celery alone', () => {
    const objects = synth({ celery: {} });
    expect(objects.filter((o) => /flower/.test(o.metadata.name))).toEqual([]);
    expect(cfgOf(objects).celery.flower_port).toBeUndefined();
  });

  test('a Deployment of one pod running `airflow celery flower` in the control plane\'s image, on port 5555', () => {
    const deployment = find(withFlower, 'Deployment', 'airflow-flower');
    expect(deployment.spec.replicas).toBe(1);
    const [container] = flowerPod(withFlower).containers;
    expect(container.args).toEqual(['bash', '-c', 'exec airflow celery flower']);
    expect(container.image).toBe(find(withFlower, 'Deployment', 'airflow-scheduler').spec.template.spec.containers[0].image);
    expect(container.ports).toEqual([{ name: 'flower-ui', containerPort: 5555, protocol: 'TCP' }]);
    // [celery] flower_port is what `airflow celery flower` listens on: set, so that another is refused
    expect(cfgOf(withFlower).celery.flower_port).toBe('5555');
    expect(container.resources).toEqual({ requests: { cpu: '50m', memory: '256Mi' }, limits: { cpu: '500m', memory: '512Mi' } });
  });

  test('the login comes from the Secret key as [celery] flower_basic_auth; no value in the YAML', () => {
    const env = flowerPod(withFlower).containers[0].env;
    expect(env).toContainEqual({ name: 'AIRFLOW__CELERY__FLOWER_BASIC_AUTH', valueFrom: { secretKeyRef: AUTH } });
    expect(findSecretMaterial(withFlower)).toEqual([]);
  });

  test('Flower reaches the broker like the workers: the same broker URL and result backend, from the same Secret', () => {
    const names = (env: any[]) => env.filter((e) => /BROKER|RESULT_BACKEND/.test(e.name));
    const worker = find(withFlower, 'Deployment', 'airflow-celery-worker').spec.template.spec.containers[0].env;
    expect(names(flowerPod(withFlower).containers[0].env)).toEqual(names(worker));
  });

  test('the chart\'s probes: curl on the UI with the login (first user), the chart\'s timings', () => {
    const c = flowerPod(withFlower).containers[0];
    const script = c.livenessProbe.exec.command[2];
    expect(c.livenessProbe.exec.command.slice(0, 2)).toEqual(['sh', '-c']);
    expect(script).toContain('--user "${AIRFLOW__CELERY__FLOWER_BASIC_AUTH%%,*}"');
    expect(script).toContain('http://localhost:5555/');
    expect(script).toContain('--fail');
    expect(c.livenessProbe).toMatchObject({ initialDelaySeconds: 10, periodSeconds: 5, timeoutSeconds: 5, failureThreshold: 10 });
    expect(c.readinessProbe).toMatchObject({ initialDelaySeconds: 10, periodSeconds: 5, timeoutSeconds: 5, failureThreshold: 10 });
    expect(c.startupProbe).toMatchObject({ initialDelaySeconds: 0, periodSeconds: 10, timeoutSeconds: 20, failureThreshold: 6 });
    const open = flowerPod(synth({ celery: { flower: { unauthenticated: true } } })).containers[0];
    expect(open.livenessProbe.exec.command[2]).not.toContain('--user');
    expect(open.env.map((e: any) => e.name)).not.toContain('AIRFLOW__CELERY__FLOWER_BASIC_AUTH');
  });

  test('restricted like the other components: Airflow\'s user, no token, read-only root, only airflow.cfg and /tmp', () => {
    const pod = flowerPod(withFlower);
    expect(podSecurityLevelOf(pod)).toBe('restricted');
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.serviceAccountName).toBe('airflow-flower');
    expect(find(withFlower, 'ServiceAccount', 'airflow-flower').automountServiceAccountToken).toBe(false);
    expect(pod.containers[0].securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, runAsNonRoot: true });
    // no DAGs, logs or data: Flower reads nothing of Airflow's but the configuration
    expect(pod.volumes.map((v: any) => v.name).sort()).toEqual(['airflow-config', 'airflow-tmp']);
  });

  test('a ClusterIP Service airflow-flower on 5555 (flower-ui), selecting the Flower pod only', () => {
    const service = find(withFlower, 'Service', 'airflow-flower');
    expect(service.spec.type).toBe('ClusterIP');
    expect(service.spec.ports).toEqual([{ name: 'flower-ui', port: 5555, targetPort: 'flower-ui', protocol: 'TCP' }]);
    expect(service.spec.selector['app.kubernetes.io/component']).toBe('flower');
    expect(find(withFlower, 'Deployment', 'airflow-flower').spec.template.metadata.labels).toMatchObject(service.spec.selector);
  });

  test('resources may be changed', () => {
    const objects = synth({ celery: { flower: { basicAuthSecret: AUTH, resources: { memoryLimit: '1Gi' } } } });
    expect(flowerPod(objects).containers[0].resources.limits.memory).toBe('1Gi');
    expect(Flower.DEFAULT_RESOURCES.memoryRequest).toBe('256Mi');
  });

  test('Airflow 2 too: the database connection the result backend (db+...) refers to is in Flower\'s env', () => {
    const objects = synth({ image: 'apache/airflow:2.11.0', celery: { flower: { basicAuthSecret: AUTH } } });
    const env = flowerPod(objects).containers[0].env.map((e: any) => e.name);
    expect(env).toEqual(expect.arrayContaining(['AIRFLOW__DATABASE__SQL_ALCHEMY_CONN', 'AIRFLOW__CELERY__RESULT_BACKEND']));
    expect(env.indexOf('AIRFLOW__DATABASE__SQL_ALCHEMY_CONN')).toBeLessThan(env.indexOf('AIRFLOW__CELERY__RESULT_BACKEND'));
  });
});

describe('celery.flower: refusals', () => {
  test('no login at all, unless unauthenticated: true says so (Flower can revoke and kill tasks)', () => {
    expect(errorOf(() => synth({ celery: { flower: {} } }))).toMatch(
      /^Flower at "airflow\/airflow\/celery\/flower": property "basicAuthSecret" received undefined; allowed: a Secret key reference \{ name, key \} holding Flower's login "user:password": without one, whoever reaches Flower's port can revoke and kill running tasks/,
    );
  });

  test('the login as a value', () => {
    const message = errorOf(() => synth({ celery: { flower: { basicAuthSecret: 'admin:hunter2' as never } } }));
    expect(message).toMatch(/property "basicAuthSecret" received "\(value not shown\)"; allowed: a reference to the Secret key holding "user:password" \(\{ name, key \}\), never the value/);
    expect(message).not.toContain('hunter2');
    // a misspelt key is unchecked, so its value may be the password: the refusal does not repeat it
    const misspelt = errorOf(() => synth({ celery: { flower: { basicAuth: 'admin:hunter2' } as never } }));
    expect(misspelt).toMatch(/property "celery\.flower\.basicAuth" received "\(value not shown: an unknown prop may hold a secret\)"; allowed: a prop of FlowerOptions /);
    expect(misspelt).not.toContain('hunter2');
    expect(errorOf(() => synth({ celery: { flower: { basicAuthSecret: AUTH } }, config: { celery: { flower_basic_auth: 'admin:hunter2' } } }))).toMatch(
      /property "config\.celery\.flower_basic_auth"/,
    );
  });

  test('both a login and unauthenticated', () => {
    expect(errorOf(() => synth({ celery: { flower: { basicAuthSecret: AUTH, unauthenticated: true } } }))).toMatch(
      /property "unauthenticated" received true; allowed: false \(or unset\) with a basicAuthSecret/,
    );
  });

  test('flower without celery: a top-level flower is refused as an unknown prop', () => {
    expect(errorOf(() => synth({ flower: { basicAuthSecret: AUTH } } as never))).toMatch(/property "flower"/);
  });

  test('another [celery] flower_port than the one the Service and policies name', () => {
    expect(errorOf(() => synth({ celery: { flower: { basicAuthSecret: AUTH } }, config: { celery: { flower_port: 5556 } } }))).toMatch(/flower_port/);
  });
});

describe('celery.flower with networkPolicies: true', () => {
  const sources = [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } }];

  test('Flower reaches the in-cluster Redis like the scheduler and the workers', () => {
    const objects = synth({ celery: { flower: { basicAuthSecret: AUTH } }, networkPolicies: true });
    for (const name of ['airflow-redis', 'airflow-redis-clients']) {
      const p = policy(objects, name);
      const selector = name === 'airflow-redis' ? p.spec.ingress[0].from[0].podSelector : p.spec.podSelector;
      expect(selector.matchExpressions[0].values).toEqual(['scheduler', 'celery-worker', 'flower']);
    }
    // no sources given: nothing but port-forward reaches the UI (the default-deny holds)
    expect(policy(objects, 'airflow-flower')).toBeUndefined();
    // without Flower the broker's clients are the scheduler and the workers
    const without = synth({ celery: {}, networkPolicies: true });
    expect(policy(without, 'airflow-redis').spec.ingress[0].from[0].podSelector.matchExpressions[0].values).toEqual(['scheduler', 'celery-worker']);
  });

  test('the UI port from apiServerSources, like the api-server\'s', () => {
    const objects = synth({ celery: { flower: { basicAuthSecret: AUTH } }, networkPolicies: true, networkPolicyOptions: { apiServerSources: sources } });
    expect(policy(objects, 'airflow-flower').spec).toEqual({
      podSelector: { matchLabels: { 'app.kubernetes.io/component': 'flower' } },
      policyTypes: ['Ingress'],
      ingress: [{ from: sources, ports: [{ protocol: 'TCP', port: 5555 }] }],
    });
  });

  test('a broker of your own: the scheduler, the workers and Flower reach its ports (any address unless externalBrokerCidrs)', () => {
    const externalBroker = { urlSecret: { name: 'broker', key: 'url' } };
    const objects = synth({ celery: { externalBroker, flower: { basicAuthSecret: AUTH } }, networkPolicies: true });
    const p = policy(objects, 'airflow-broker-clients');
    expect(p.spec.podSelector.matchExpressions[0].values).toEqual(['scheduler', 'celery-worker', 'flower']);
    expect(p.spec.egress).toEqual([{ ports: [5671, 5672, 6379, 6380].map((port) => ({ protocol: 'TCP', port })) }]);
    expect(policy(objects, 'airflow-redis')).toBeUndefined();
    const narrowed = synth({
      celery: { externalBroker },
      networkPolicies: true,
      networkPolicyOptions: { externalBrokerCidrs: ['10.1.2.3/32'], externalBrokerPorts: [6380] },
    });
    expect(policy(narrowed, 'airflow-broker-clients').spec.egress).toEqual([{ to: [{ ipBlock: { cidr: '10.1.2.3/32' } }], ports: [{ protocol: 'TCP', port: 6380 }] }]);
    expect(policy(narrowed, 'airflow-broker-clients').spec.podSelector.matchExpressions[0].values).toEqual(['scheduler', 'celery-worker']);
    expect(errorOf(() => synth({ celery: {}, networkPolicies: true, networkPolicyOptions: { externalBrokerPorts: [6380] } }))).toMatch(
      /AirflowNetworkPolicies at "airflow\/network-policies": property "externalBrokerPorts" received \[6380\]; allowed: unset without celery\.externalBroker: nothing would use the rule\. Turn celery\.externalBroker on, or leave externalBrokerPorts out\./,
    );
  });
});
