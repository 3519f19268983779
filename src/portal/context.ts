import type { FastifyRequest } from 'fastify';
import type { Config } from '../config';
import type { Sql } from '../db/client';
import { AppError } from '../domain/errors';
import type { PortalSessionClaims } from './auth';

/** What route plugins receive. */
export interface RouteDeps {
  config: Config;
  sql: Sql;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** set by the admin auth hook: the organization of the API key */
    organizationId: string | null;
    /** set by the portal auth hook */
    portalSession: PortalSessionClaims | null;
  }
}

export function orgOf(request: FastifyRequest): string {
  if (!request.organizationId) throw new AppError('unauthorized', 'Not authenticated.');
  return request.organizationId;
}

export function sessionOf(request: FastifyRequest): PortalSessionClaims {
  if (!request.portalSession) throw new AppError('unauthorized', 'Not authenticated.');
  return request.portalSession;
}

export const envelope = <T>(data: T) => ({ success: true as const, data });
