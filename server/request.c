/*
 * request.c - the one function of request.h.
 */
#include "request.h"

#include <stdlib.h>

void http_response_clear(struct http_response *resp)
{
	free(resp->body);
	resp->body = NULL;
	resp->body_len = 0;
}
