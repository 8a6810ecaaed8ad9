import * as fs from 'fs';
import * as path from 'path';
import { Chart, Testing, Yaml } from 'cdk8s';
import * as k8s from '../../imports/k8s';
import { AirflowChart } from '../../lib';
import { podTemplateOf, readmeBlock, renderBlock, renderDiagram, replaceBlock, START, END } from '../../scripts/diagram';

const root = path.resolve(__dirname, '..', '..');

describe('the README diagram of the default chart', () => {
  const objects = Testing.synth(new AirflowChart(Testing.app(), 'airflow'));
  const diagram = renderDiagram(objects);

  test('is current: run npm run docs', () => {
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    const block = readmeBlock(readme);
    if (block === undefined) throw new Error(`README.md has no ${START} ... ${END} block: run npm run docs`);
    if (block !== renderBlock(objects)) throw new Error('The README diagram is out of date: run npm run docs');
  });

  test('drops nothing: every volume, claim, ServiceAccount, workload, Service and Role is drawn', () => {
    const drawn = (kind: string) => objects.filter((o) => o.kind === kind).map((o) => o.metadata.name as string);
    const kinds = ['PersistentVolume', 'PersistentVolumeClaim', 'ServiceAccount', 'Deployment', 'StatefulSet', 'Job', 'Service', 'Role', 'Secret', 'ConfigMap'];
    const names = kinds.flatMap(drawn);
    expect(drawn('PersistentVolume').length).toBeGreaterThan(0);
    expect(drawn('PersistentVolumeClaim').length).toBeGreaterThan(0);
    const missing = names.filter((n) => !diagram.includes(`<br/>${n}"`) && !diagram.includes(`<br/>${n}<br/>`));
    expect(missing).toEqual([]);
  });

  test('each claim points at the volume it is pinned to, with its hostPath', () => {
    for (const pvc of objects.filter((o) => o.kind === 'PersistentVolumeClaim' && o.spec.volumeName)) {
      const claimId = `pvc_${pvc.metadata.name.replace(/-/g, '_')}`;
      const volumeId = `pv_${pvc.spec.volumeName.replace(/-/g, '_')}`;
      expect(diagram).toContain(`${claimId} -->|bound to| ${volumeId}`);
    }
    expect(diagram).toContain('pv_airflow_dags_volume[("PV<br/>airflow-dags-volume<br/>hostPath /data/dags');
  });

  test('is deterministic', () => {
    expect(renderDiagram(Testing.synth(new AirflowChart(Testing.app(), 'airflow')))).toBe(diagram);
  });
});

describe('renderDiagram on a small chart of real objects', () => {
  const chart = new Chart(Testing.app(), 'demo', { namespace: 'demo' });
  new k8s.KubeNamespace(chart, 'ns', { metadata: { name: 'demo' } });
  new k8s.KubeServiceAccount(chart, 'sa', { metadata: { name: 'web' } });
  new k8s.KubeServiceAccount(chart, 'unused-sa', { metadata: { name: 'idle' } });
  new k8s.KubePersistentVolume(chart, 'pv', {
    metadata: { name: 'data-volume' },
    spec: { capacity: { storage: k8s.Quantity.fromString('1Gi') }, hostPath: { path: '/data/x' }, claimRef: { name: 'data-claim', namespace: 'demo' } },
  });
  new k8s.KubePersistentVolumeClaim(chart, 'pvc', { metadata: { name: 'data-claim' }, spec: { volumeName: 'data-volume' } });
  new k8s.KubeDeployment(chart, 'deploy', {
    metadata: { name: 'web' },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web', tier: 'front' } },
        spec: {
          serviceAccountName: 'web',
          containers: [
            {
              name: 'c',
              image: 'nginx',
              env: [{ name: 'P', valueFrom: { secretKeyRef: { name: 'creds', key: 'p' } } }],
              envFrom: [{ configMapRef: { name: 'settings' } }],
            },
          ],
          volumes: [{ name: 'd', persistentVolumeClaim: { claimName: 'data-claim' } }],
        },
      },
    },
  });
  new k8s.KubeService(chart, 'svc', { metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ port: 80 }] } });
  new k8s.KubeService(chart, 'other-svc', { metadata: { name: 'nothing' }, spec: { selector: { app: 'none' }, ports: [{ port: 81 }] } });
  new k8s.KubeSecret(chart, 'secret', { metadata: { name: 'creds' } });
  new k8s.KubeRole(chart, 'role', { metadata: { name: 'reader' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }] });
  new k8s.KubeRoleBinding(chart, 'binding', {
    metadata: { name: 'web-reads' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'reader' },
    subjects: [{ kind: 'ServiceAccount', name: 'web', namespace: 'demo' }],
  });
  const workerPod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x' }, spec: {
    serviceAccountName: 'worker',
    containers: [{ name: 'base', image: 'i', resources: { requests: { cpu: '500m', memory: '1Gi' } } }],
    volumes: [{ name: 'd', persistentVolumeClaim: { claimName: 'data-claim' } }],
  } };
  new k8s.KubeConfigMap(chart, 'cm', { metadata: { name: 'airflow-config' }, data: { 'pod_template_file.yaml': Yaml.stringify(workerPod) } });
  const objects = Testing.synth(chart);
  const diagram = renderDiagram(objects);

  test('draws workloads, Services, claims, volumes, RBAC, Secrets, ConfigMaps and the worker template', () => {
    const lines = diagram.split('\n').map((l) => l.trim());
    expect(lines[0]).toBe('flowchart LR');
    expect(lines).toContain('subgraph ns_demo["namespace demo"]');
    expect(lines).toContain('deploy_web["Deployment<br/>web<br/>2 replicas"]');
    expect(lines).toContain('deploy_web -->|runs as| sa_web');
    expect(lines).toContain('deploy_web -->|mounts| pvc_data_claim');
    expect(lines).toContain('deploy_web -.->|reads| secret_creds');
    expect(lines).toContain('deploy_web -.->|reads| cm_settings');
    expect(lines).toContain('svc_web -->|selects| deploy_web');
    expect(lines.filter((l) => l.startsWith('svc_nothing -->'))).toEqual([]);
    expect(lines).toContain('pvc_data_claim -->|bound to| pv_data_volume');
    expect(lines).toContain('pv_data_volume[("PV<br/>data-volume<br/>hostPath /data/x<br/>1Gi")]');
    expect(lines).toContain('role_reader -->|RoleBinding web-reads| sa_web');
    expect(lines).toContain('sa_idle(["ServiceAccount<br/>idle"])');
    expect(lines).toContain('cm_airflow_config -.->|pod_template_file.yaml| template_worker');
    expect(lines).toContain('template_worker -->|runs as| sa_worker');
    expect(lines).toContain('template_worker -->|mounts| pvc_data_claim');
    expect(lines).toContain('template_worker[["worker pod template<br/>one pod per task<br/>requests 500m CPU, 1Gi"]]');
    expect(lines).toContain('cm_settings[\\"ConfigMap<br/>settings"/]');
    // the Secret the chart creates is not marked; a referenced one it does not create would be
    expect(diagram).toContain('secret_creds[/"Secret<br/>creds"/]');
    // the PersistentVolume is cluster-scoped: outside the namespace subgraph
    expect(lines.indexOf('end')).toBeLessThan(lines.findIndex((l) => l.startsWith('pv_data_volume[')));
  });

  test('tolerates a chart without a worker pod template', () => {
    const bare = objects.filter((o) => o.kind !== 'ConfigMap');
    expect(podTemplateOf(bare)).toBeUndefined();
    expect(renderDiagram(bare)).not.toContain('template_worker');
  });

  test('replaceBlock rewrites only the text between the markers', () => {
    const readme = `# x\n\nbefore\n\n${START}\nold\n${END}\n\nafter $& $1\n`;
    const updated = replaceBlock(readme, `${START}\nnew $&\n${END}`);
    expect(updated).toBe(`# x\n\nbefore\n\n${START}\nnew $&\n${END}\n\nafter $& $1\n`);
    expect(() => replaceBlock('# no markers\n', 'x')).toThrow(/diagram:start/);
  });
});
