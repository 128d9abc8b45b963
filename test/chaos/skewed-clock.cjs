// Preloaded into one chaos worker (NODE_OPTIONS=--require …): its clock runs CLOCK_SKEW_MS ahead (or behind) of
// everyone else's, as a machine whose NTP drifted would. Date.now and new Date() are shifted; timers are not.
const skew = Number(process.env.CLOCK_SKEW_MS || 0);
if (skew) {
  const RealDate = Date;
  const now = () => RealDate.now() + skew;
  class SkewedDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(now());
      else super(...args);
    }
    static now() {
      return now();
    }
  }
  globalThis.Date = SkewedDate;
}
