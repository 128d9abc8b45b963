// Links into the Temporal Web UI: where it is (TEMPORAL_UI_URL; the dev server's http://localhost:8233 when
// Temporal is the local default), and the deliveries list as a ready query. The UI keeps its columns per browser
// (local storage), not in the URL: the README says how to add the delivery columns once and save the view.
import { WORKFLOW_TYPE } from '../workflows/messages';

export function webUiUrl(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.TEMPORAL_UI_URL) return env.TEMPORAL_UI_URL.replace(/\/+$/, '');
  const address = env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233';
  return /^(127\.0\.0\.1|localhost):7233$/.test(address) ? 'http://localhost:8233' : undefined;
}

/** The deliveries list (optionally of one state), newest first, as the Web UI's query. */
export function deliveriesLink(uiUrl: string, namespace: string, filter: { state?: string; running?: boolean } = {}): string {
  const query = [`WorkflowType = "${WORKFLOW_TYPE}"`,
    ...(filter.state ? [`DeliveryState = "${filter.state}"`] : []),
    ...(filter.running ? ['ExecutionStatus = "Running"'] : [])].join(' AND ');
  return `${uiUrl}/namespaces/${encodeURIComponent(namespace)}/workflows?query=${encodeURIComponent(query)}`;
}
