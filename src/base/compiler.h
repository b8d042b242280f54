/* Compiler helpers shared by every layer. */
#ifndef CIO_BASE_COMPILER_H
#define CIO_BASE_COMPILER_H

#include <stddef.h>

#define cio__likely(x) __builtin_expect(!!(x), 1)
#define cio__unlikely(x) __builtin_expect(!!(x), 0)

#define cio__container_of(ptr, type, member)                                                       \
    ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

#define CIO__INTERNAL __attribute__((visibility("hidden")))

#if defined(__SANITIZE_ADDRESS__)
#define CIO__ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CIO__ASAN 1
#endif
#endif

#if defined(__SANITIZE_THREAD__)
#define CIO__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CIO__TSAN 1
#endif
#endif

#endif
