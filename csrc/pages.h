/* Giving whole pages of a buffer back to the system without freeing the buffer. Pure C.
 *
 * For a large buffer whose prefix the caller has finished with (a JSON body being decoded), so
 * that the body and what is decoded from it need not be resident together. The bytes given back
 * read as unspecified afterwards (zeros on Linux); the buffer is still freed as usual. */
#ifndef COZE_PAGES_H
#define COZE_PAGES_H

/* Gives back every whole page inside [from, to). Returns where the next call should start: the
 * page boundary at or below `to`, or `to` itself where the system has no way to give pages back. */
const char *coze_pages_release(const char *from, const char *to);

#endif
