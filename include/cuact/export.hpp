// SPDX-License-Identifier: Apache-2.0
//! @file cuact/export.hpp
//! Symbol visibility: the shared library is built with hidden visibility and exports only what is
//! marked CUACT_API.
#pragma once

#if defined(CUACT_STATIC)
#define CUACT_API
#elif defined(_WIN32)
#if defined(CUACT_BUILDING_LIBRARY)
#define CUACT_API __declspec(dllexport)
#else
#define CUACT_API __declspec(dllimport)
#endif
#else
#define CUACT_API __attribute__((visibility("default")))
#endif
