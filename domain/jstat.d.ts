// The part of jStat (no types published) that domain/ab-test.ts uses.
declare module 'jstat' {
  export const jStat: {
    /** ln Γ(x). */
    gammaln(x: number): number;
  };
}
