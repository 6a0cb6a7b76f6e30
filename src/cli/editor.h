/*
 * editor.h - round trip of a JSON document through the user's $EDITOR
 * (`corral vm edit VM` on a terminal).
 *
 * The editor named by $EDITOR (default vi) is split on blanks into an argv
 * and run directly, never through a shell, with the temp file appended.
 */
#ifndef CORRAL_CLI_EDITOR_H
#define CORRAL_CLI_EDITOR_H

#include <jansson.h>

/*
 * Write `in` as pretty JSON to a temp file, run the editor on it and read
 * it back.  Returns
 *   1  changed: *out is the edited object (new reference) and *path the temp
 *      file, left on disk so a failed submit can point at it (caller unlinks
 *      and frees);
 *   0  the editor left the document unchanged (file removed);
 *  -1  failure (editor failed or the result is not a JSON object): the
 *      message is printed; a malformed edit is kept and its path named.
 */
int editor_edit_json(const json_t *in, json_t **out, char **path);

#endif
