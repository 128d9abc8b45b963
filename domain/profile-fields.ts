/** Profile columns a template or an audience filter may name (attributes.* are free attributes). */
export const PROFILE_FIELDS = ['email', 'firstName', 'lastName', 'language', 'country', 'optOut'] as const;
export type ProfileField = (typeof PROFILE_FIELDS)[number];

export function isProfileField(name: string): name is ProfileField {
  return (PROFILE_FIELDS as readonly string[]).includes(name);
}

/** An attribute's value: text, or a number (dates are ISO text: domain/profile-csv.ts attributeValue). */
export type AttributeValue = string | number;

/** A profile's data, as imported and as stored. */
export interface ProfileData {
  email: string;
  firstName: string;
  lastName: string;
  language: string;
  country: string;
  optOut: boolean;
  attributes: Record<string, AttributeValue>;
}

/** A stored profile. */
export interface ProfileRecord extends ProfileData {
  id: number;
}

/**
 * A profile's attribute by name, own properties only: an attribute named after something every object inherits
 * (`constructor`, `toString`) must not read the inherited one (`--key constructor` would match every row).
 */
export function attributeOf(attributes: Record<string, AttributeValue>, name: string): AttributeValue | undefined {
  return Object.hasOwn(attributes, name) ? attributes[name] : undefined;
}
