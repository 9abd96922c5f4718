"""codenav: an index of code symbols kept in Redis, served over HTTP and SSE."""
