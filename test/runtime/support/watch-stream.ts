// `kubectl get -w --output-watch-events -o json` prints one JSON document per watch event ({"type": ..., "object":
// ...}), pretty-printed over many lines, back to back. WatchEvents cuts the stream into those documents, whatever
// the chunks' boundaries: it follows the braces outside JSON strings.

/** One event of a watch on the API server: ADDED, MODIFIED, DELETED (or ERROR), and the object as it was then. */
export interface WatchEvent {
  type: string;
  object: any;
}

/** Cuts the output of `kubectl get -w --output-watch-events -o json` into its events. */
export class WatchEvents {
  private buffer = '';
  private depth = 0;
  private inString = false;
  private escaped = false;
  private start = -1;
  /** Where the scan of {@link buffer} goes on with the next chunk. */
  private scanned = 0;

  /** Takes the next chunk of the stream; returns the events it completes, in order. */
  push(chunk: string): WatchEvent[] {
    this.buffer += chunk;
    const events: WatchEvent[] = [];
    let i = this.scanned;
    for (; i < this.buffer.length; i++) {
      const c = this.buffer[i];
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === '\\') this.escaped = true;
        else if (c === '"') this.inString = false;
      } else if (c === '"') {
        this.inString = true;
      } else if (c === '{') {
        if (this.depth++ === 0) this.start = i;
      } else if (c === '}') {
        if (--this.depth === 0) {
          events.push(JSON.parse(this.buffer.slice(this.start, i + 1)));
          this.buffer = this.buffer.slice(i + 1);
          i = -1;
          this.start = -1;
        }
      }
    }
    // keep only the document being read (from its first brace), or nothing between documents
    if (this.depth === 0) {
      this.buffer = '';
      this.scanned = 0;
    } else {
      this.buffer = this.buffer.slice(this.start);
      this.scanned = this.buffer.length;
      this.start = 0;
    }
    return events;
  }
}

/**
 * Records a watch event of a task pod: the pod as the API server held it when first seen (in `pods`), and its phases
 * in order, `Deleted` last when it is gone (in `phases`), each by pod name.
 */
export function recordTaskPodEvent(e: WatchEvent, pods: Map<string, any>, phases: Map<string, string[]>): void {
  const name = e.object?.metadata?.name;
  if (!name || e.type === 'ERROR') return; // ERROR: a Status (the watch expired), no pod
  if (!pods.has(name)) pods.set(name, e.object);
  const seen = phases.get(name) ?? [];
  const entry = e.type === 'DELETED' ? 'Deleted' : e.object.status?.phase;
  if (entry && seen[seen.length - 1] !== entry) seen.push(entry);
  phases.set(name, seen);
}
