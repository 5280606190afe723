/** Links into the Temporal UI. */

export interface TemporalLinks {
  namespace: string;
  /** The Temporal UI's base URL, when known (not for a server the user runs elsewhere). */
  uiUrl?: string;
}

/** The UI page of one workflow execution's history; undefined when the UI's address is unknown. */
export function historyUrl(
  links: TemporalLinks,
  execution: { workflowId: string; workflowRunId: string },
): string | undefined {
  if (!links.uiUrl) return undefined;
  const base = links.uiUrl.replace(/\/+$/, '');
  return `${base}/namespaces/${encodeURIComponent(links.namespace)}/workflows/${encodeURIComponent(
    execution.workflowId,
  )}/${encodeURIComponent(execution.workflowRunId)}/history`;
}
