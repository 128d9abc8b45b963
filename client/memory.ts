// A full garbage collection on demand, for long streaming jobs (profile imports).
// V8 lets a process's old generation fill to several times its live data before collecting it: an import that
// holds one batch at a time (~25 MB live) still peaked at 350 MB RSS, all of it garbage. Collecting every few
// batches keeps the peak near the live size for ~2% of the time. `gc` is not exposed without --expose-gc;
// V8 lets a running process turn that flag on, and a new context then carries the function.
import v8 from 'node:v8';
import vm from 'node:vm';

let gc: (() => void) | undefined;

export function collectGarbage(): void {
  if (!gc) {
    v8.setFlagsFromString('--expose-gc');
    gc = vm.runInNewContext('gc') as () => void;
  }
  gc();
}
