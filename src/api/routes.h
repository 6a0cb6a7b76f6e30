/*
 * routes.h - the REST API of docs/api.md: path matching, request bodies to
 * arguments, service results to JSON replies.  No business logic here.
 */
#ifndef CORRAL_API_ROUTES_H
#define CORRAL_API_ROUTES_H

#include "api/http.h"

void api_route(const struct http_request *req, struct http_reply *rep);

/* GET /v1/openapi.json: the route table as an OpenAPI 3.0 document (new reference). */
json_t *api_openapi(void);

/* Map a -errno from the ops layer to (HTTP status, error code). */
int api_errno_status(int err, const char **code);

#endif
