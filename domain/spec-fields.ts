// Checks shared by the fields of the spec and of its variants (domain/spec.ts, domain/sending-plan.ts).

// C0 controls and DEL: a line break would inject mail headers, NUL or ESC corrupt them and the terminals that show them.
export const ONE_LINE = [(v: string) => !/[\x00-\x1F\x7F]/.test(v), 'must be one line of text without control characters (CR, LF, TAB, NUL, ESC…): they would inject or corrupt mail headers'] as const;

export const MAX_TEMPLATE_BYTES = 512 * 1024;
