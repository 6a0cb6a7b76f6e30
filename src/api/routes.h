/*
 * routes.h - the REST API of docs/api.md: path matching, request bodies to
 * arguments, service results to JSON replies.  No business logic here.
 */
#ifndef CORRAL_API_ROUTES_H
#define CORRAL_API_ROUTES_H

#include "api/http.h"
#include "auth/auth.h"

void api_route(const struct http_request *req, struct http_reply *rep);

/* routes_ui.c: where the web UI's files are (ui_dir; novnc_dir NULL: no
 * noVNC), set once before the server starts.  The strings must outlive it. */
void api_ui_init(const char *ui_dir, const char *novnc_dir);
/* A request under /ui (the UI's files, login, logout, session): answered, true;
 * anything else false. */
bool api_ui_route(const struct http_request *req, struct http_reply *rep);

/* GET /v1/openapi.json: the route table as an OpenAPI 3.0 document (new reference). */
json_t *api_openapi(void);

/* For tests and docs: route i's method, path pattern ("/v1/vms/{vm}") and
 * the privilege a caller over TCP needs; false past the last route. */
bool api_route_info(size_t i, const char **method, char *path, size_t len, enum auth_priv *priv);

/* Map a -errno from the ops layer to (HTTP status, error code). */
int api_errno_status(int err, const char **code);

#endif
