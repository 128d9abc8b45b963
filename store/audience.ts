// Audience filter → Prisma where clause over profiles.
import type { Audience } from '../domain/spec';
import type { Prisma } from './generated/sqlite/client';

export function audienceWhere(audience: Audience): Prisma.ProfileWhereInput {
  if ('all' in audience) return {};
  const where: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(audience.where)) {
    where[field] = Array.isArray(value) ? { in: value } : value;
  }
  return where as Prisma.ProfileWhereInput;
}
