// The default chain on the previous Airflow minor version (issue #26: 3.2 is the default, 3.1 still runs for real):
// the default chart with `image: apache/airflow:3.1.3`, every pod served from the 3.1 root (test-runtime.sh builds
// both roots). The same steps as default-chart.runtime.test.ts, without its memory figures (the docs quote the
// default's). On the real node (REAL_NODE_SUITES, issue #27) its pods pull apache/airflow:3.1.3 from the node's
// registry: scripts/runtime/build-images.sh builds it from the 3.1 root (build-airflow 3.1) and test-runtime.sh
// pushes it, reading the tag from IMAGE's line below (keep it one `const IMAGE = '...';` line).
//
// In namespace airflow-3-1 (issue #25 item 3: the real node runs two files at once, whose charts must share nothing),
// its PersistentVolumes airflow-3-1-*-volume on /data/airflow-3-1 (AirflowChart's defaults for a namespace other than
// airflow); default-chart.runtime.test.ts proves the course's names in namespace airflow.
import { RuntimeChain } from './support/chain';
import { airflowMinorOf, rootInfo } from './support/kubelet';
import { newKubelet } from './support/real-kubelet';
import { defaultChart, outsideOwnNamespace } from './support/variants';

/** The newest 3.1 release: the last default before 3.2.2 (docs/airflow.md, "The default version"). */
const IMAGE = 'apache/airflow:3.1.3';
const NAMESPACE = 'airflow-3-1';
const kubelet = newKubelet('default-3-1');
const chain = new RuntimeChain(defaultChart({ image: IMAGE, namespace: NAMESPACE }), kubelet);

chain.hooks({ recordTimings: false });

describe(`runtime: the default chart on ${IMAGE}`, () => {
  test('the chart runs apache/airflow:3.1.3, served from the 3.1 root', () => {
    expect(chain.airflowImage()).toBe(IMAGE);
    const info = rootInfo(kubelet.root);
    console.log(`RUNTIME [default 3.1]: ${IMAGE} served from ${kubelet.root} (airflow ${info.airflow}, python ${info.python})`);
    expect(airflowMinorOf(`apache/airflow:${info.airflow}`)).toBe('3.1');
  });
  test(`the chart shares nothing with another suite's: namespace ${NAMESPACE}, its volumes ${NAMESPACE}-*-volume on /data/${NAMESPACE}`, () => {
    expect(chain.ns).toBe(NAMESPACE);
    expect(chain.objectsOf('PersistentVolume').map((pv) => pv.metadata.name).sort()).toEqual(
      ['dags', 'data', 'logs', 'postgres', 'postgres-keys'].map((v) => `${NAMESPACE}-${v}-volume`).sort(),
    );
    expect(outsideOwnNamespace(chain.variant, NAMESPACE)).toEqual([]);
  });
  for (const step of Object.values(chain.steps())) test(step.name, chain.jest(step), step.timeoutMs + 60_000);
  // The real node: the memory the kernel charges (page cache included) against each cgroup's limit, as default-chart's
  const memory = chain.cgroupMemoryStep(chain.components());
  if (kubelet.real) test(memory.name, chain.jest(memory), memory.timeoutMs + 60_000);
});
