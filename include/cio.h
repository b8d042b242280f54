/* cio — the asyncio programming model for C.
 *
 * Include this one header. Public names start with cio_ (functions, types)
 * or CIO_ (macros, constants); names with cio__ or a trailing underscore are
 * private. See docs/ for the guides and each header for the reference.
 */
#ifndef CIO_H
#define CIO_H

#include "cio/error.h"
#include "cio/loop.h"
#include "cio/task.h"
#include "cio/context.h"
#include "cio/scope.h"
#include "cio/future.h"
#include "cio/sync.h"
#include "cio/queue.h"
#include "cio/gather.h"
#include "cio/group.h"
#include "cio/generator.h"
#include "cio/retry.h"
#include "cio/executor.h"
#include "cio/threadsafe.h"
#include "cio/signal.h"

#endif
