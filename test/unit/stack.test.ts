import { sampleDecision } from '../../stack/main';

describe('npm start', () => {
  it('sends the sample delivery only to the sample profiles it has just imported, or when asked', () => {
    expect(sampleDecision(0, false)).toEqual({ run: true });
    expect(sampleDecision(312, true)).toEqual({ run: true });
    expect(sampleDecision(312, false)).toEqual({
      run: false,
      why: 'no sample sent: the database already holds 312 profile(s), which examples/delivery.json would all target; "npm start -- --sample" sends it anyway',
    });
  });
});
