/* metaplast: version and build information. See LICENSE for copyright. */
#ifndef METAPLAST_VERSION_H
#define METAPLAST_VERSION_H

#include "metaplast/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MPL_VERSION_MAJOR 0
#define MPL_VERSION_MINOR 1
#define MPL_VERSION_PATCH 0
#define MPL_VERSION_STRING "0.1.0"

MPL_API const char *mpl_version(void);

/* The shared object that defines the cblas_ddot libmetaplast itself calls, and the one the
 * process-wide lookup finds (what libgsl's calls bind to). Both should be OpenBLAS; "?" if unknown. */
MPL_API const char *mpl_blas_library(void);
MPL_API const char *mpl_gsl_blas_library(void);

#ifdef __cplusplus
}
#endif
#endif
