// Validates Prometheus Operator objects (JSON array on stdin) against the CRD schemas shipped in
// @kubernetes-models/prometheus-operator. Prints one line per object; exits 1 if any is invalid.
// Core Kubernetes kinds are checked elsewhere (kubernetes-validate, tests/deploy/test_helm.py).
import { readFileSync } from "node:fs";
import { PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";
import { PodMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor";

const kinds = { PrometheusRule, ServiceMonitor, PodMonitor };
const objects = JSON.parse(readFileSync(0, "utf8"));
let failed = 0;
for (const obj of objects) {
  const name = `${obj.kind}/${obj.metadata?.name}`;
  const Kind = kinds[obj.kind];
  if (!Kind || obj.apiVersion !== "monitoring.coreos.com/v1") {
    console.log(`INVALID ${name}: not a known monitoring.coreos.com/v1 kind`);
    failed++;
    continue;
  }
  try {
    new Kind(obj).validate();
    console.log(`OK ${name}`);
  } catch (err) {
    console.log(`INVALID ${name}: ${err.message}`);
    failed++;
  }
}
process.exit(failed ? 1 : 0);
