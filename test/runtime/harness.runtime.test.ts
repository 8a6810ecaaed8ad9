// Tests of the runtime harness itself (issue #15, "Done when"): a deliberately broken configuration must make a
// NAMED step of the chain fail, with a message that names the cause. One default chart is brought up, then
// broken twice, each time only in the objects a user would get wrong, re-applied over the running chart:
//   (a) airflow.cfg's [core] execution_api_server_url with a wrong port (the ConfigMap patched after synth, so
//       that only new pods - the task pods - read it, as kubectl apply of such a YAML would do);
//   (b) the scheduler's pod-launcher Role without the "watch" verb (the scheduler restarted to pick it up).
// It runs on the real node (REAL_NODE_SUITES): the chain's failure reports there come from the real kubelet's pods,
// logs and Events (test/runtime/support/real-kubelet.ts).
import { kubectl, kubectlOk } from '../live/support/cluster';
import { RuntimeChain, Step, waitForAsync } from './support/chain';
import { newKubelet } from './support/real-kubelet';
import { defaultChart } from './support/variants';

const kubelet = newKubelet('harness');
const variant = defaultChart();
const chain = new RuntimeChain(variant, kubelet);
const steps = chain.steps();
const names = Object.keys(steps);
const TRIGGER = 'trigger write_to_data_volume through the REST API';
const DELETED = 'the executor deletes the task pod';
const HEALTH = 'GET /api/v2/monitor/health: the metadata database and every component are healthy';
const SUCCEED = 'the task instance and the DAG run succeed';
const UP = names
  .slice(0, names.indexOf(TRIGGER))
  .filter((n) => !/liveness probe|config lint/.test(n)) // the self-tests need Airflow up, not every check
  .map((n) => steps[n]);

const clone = (o: any) => JSON.parse(JSON.stringify(o));

/** A fresh chain over the same running chart, with `objects` as the YAML (its steps read them). */
function chainWith(id: string, objects: any[]): { chain: RuntimeChain; task: Step[] } {
  const c = new RuntimeChain({ id, title: `default chart, ${id}`, objects }, kubelet);
  c.secretValues = chain.secretValues;
  const s = c.steps();
  const n = Object.keys(s);
  return { chain: c, task: n.slice(n.indexOf(TRIGGER), n.indexOf(DELETED) + 1).map((x) => s[x]) };
}

// No timings recorded, as before: this chain is the variant `default` (the default chart's record) broken on purpose.
chain.hooks({ recordTimings: false });

describe('runtime harness: a broken configuration makes a named step fail', () => {
  test('set-up: the default chart comes up (apply, secrets, Postgres, migrations, components, health, DAGs)', async () => {
    const outcome = await chain.runSteps(UP);
    if (outcome.failedStep) throw new Error(outcome.message);
    expect(outcome.passed).toEqual(UP.map((s) => s.name));
  }, 1_800_000);

  test('(a) a wrong [core] execution_api_server_url fails "the task instance and the DAG run succeed", naming the URL', async () => {
    const broken = variant.objects.map(clone);
    const cm = broken.find((o) => o.kind === 'ConfigMap' && o.data?.['airflow.cfg']);
    const good = cm.data['airflow.cfg'].match(/^execution_api_server_url = (.*)$/m)[1];
    const wrong = good.replace(':8080/', ':8081/');
    expect(wrong).not.toBe(good);
    cm.data['airflow.cfg'] = cm.data['airflow.cfg'].replace(good, wrong);
    // only the ConfigMap changes: the Deployments keep their config checksum, nothing restarts
    const applied = kubectlOk(['apply', '-f', chain.writeYaml('broken-a.yaml', broken)]);
    expect(applied.split('\n').filter((l) => l.endsWith(' configured'))).toEqual([`configmap/${cm.metadata.name} configured`]);

    const { chain: c, task } = chainWith('harness-a', broken);
    try {
      const outcome = await c.runSteps(task);
      console.log(`RUNTIME [harness-a]: failed as it must: ${outcome.message?.split('\n').slice(0, 6).join('\n')}`);
      expect(outcome.failedStep).toBe(SUCCEED);
      expect(outcome.message).toContain(`execution_api_server_url = ${wrong}`);
      // the task pod's own log says why: it could not reach the execution API
      expect(outcome.message).toMatch(/errors in the task pod's log:[\s\S]*(refused|ConnectError|connect|Errno 111)/i);
      expect(outcome.passed).toContain('the KubernetesExecutor creates the task pod, as ServiceAccount airflow-scheduler');
    } finally {
      c.stopPhaseWatch();
      kubectlOk(['apply', '-f', chain.writeYaml('restore-a.yaml', variant.objects)]);
    }
  }, 1_200_000);

  test('(b) the pod-launcher Role without "watch" fails "the executor deletes the task pod", naming the denied watch', async () => {
    const broken = variant.objects.map(clone);
    const role = broken.find((o) => o.kind === 'Role' && o.metadata.name.endsWith('pod-launcher'));
    const pods = role.rules.find((r: any) => r.resources.includes('pods'));
    expect(pods.verbs).toContain('watch');
    pods.verbs = pods.verbs.filter((v: string) => v !== 'watch');
    const applied = kubectlOk(['apply', '-f', chain.writeYaml('broken-b.yaml', broken)]);
    expect(applied.split('\n').filter((l) => l.endsWith(' configured'))).toEqual([`role.rbac.authorization.k8s.io/${role.metadata.name} configured`]);
    // a running watch keeps its permission: restart the scheduler, as a rollout of the new Role would
    const before = chain.podOf('scheduler').metadata.name;
    kubectlOk(['delete', 'pod', '-n', chain.ns, before, '--wait=false']);
    await waitForAsync(
      'a new scheduler pod to be Ready',
      300_000,
      () => {
        const p = chain.podOf('scheduler');
        return p && p.metadata.name !== before && p.status?.conditions?.some((x: any) => x.type === 'Ready' && x.status === 'True');
      },
      () => kubectl(['get', 'pods', '-n', chain.ns, '-l', 'app.kubernetes.io/component=scheduler', '-o', 'wide']).stdout,
      2000,
    );

    const { chain: c, task } = chainWith('harness-b', broken);
    // the step must fail here; 20 s is still 18 times the longest deletion of the passing runs
    c.taskPodDeletionTimeoutMs = 20_000;
    try {
      const restart = await c.runSteps([
        steps["api-server, scheduler, dag-processor and triggerer run their Deployments' commands and become available"],
        steps[HEALTH],
      ]);
      if (restart.failedStep) throw new Error(`the scheduler did not come back: ${restart.message}`);
      const outcome = await c.runSteps(task);
      const denied = outcome.message?.split('\n').filter((l) => /forbidden/i.test(l)).slice(-2).map((l) => l.slice(0, 300));
      console.log(`RUNTIME [harness-b]: failed as it must: ${outcome.message?.split('\n')[0]}\n${denied?.join('\n')}`);
      expect(outcome.failedStep).toBe(DELETED);
      expect(outcome.passed).toContain(SUCCEED);
      // the failure shows the scheduler's denied watch
      expect(outcome.message).toMatch(/forbidden/i);
      expect(outcome.message).toMatch(/"?watch"?/);
    } finally {
      c.stopPhaseWatch();
      kubectlOk(['apply', '-f', chain.writeYaml('restore-b.yaml', variant.objects)]);
      kubectl(['delete', 'pods', '-n', chain.ns, '-l', 'kubernetes_executor=True', '--wait=false']);
    }
  }, 1_200_000);
});
