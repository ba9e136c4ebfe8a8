/** Name of the OpenAPI security scheme (`components.securitySchemes`) the protected routes declare. */
export const BEARER_SCHEME = 'bearerAuth';
/** `schema.security` of a protected route. */
export const bearerSecurity = [{ [BEARER_SCHEME]: [] as string[] }];
