/* metaplast: version and build information. See LICENSE for copyright. */
#define _GNU_SOURCE
#include "metaplast/version.h"

#include <cblas.h>
#include <dlfcn.h>

const char *mpl_version(void) { return MPL_VERSION_STRING; }

static const char *owner(void *sym) {
  Dl_info info;
  return (sym && dladdr(sym, &info) && info.dli_fname) ? info.dli_fname : "?";
}

const char *mpl_blas_library(void) {
  /* the address of an imported function is the definition the loader bound it to */
  double (*f)(const int, const double *, const int, const double *, const int) = cblas_ddot;
  return owner(*(void **)&f);
}

const char *mpl_gsl_blas_library(void) { return owner(dlsym(RTLD_DEFAULT, "cblas_ddot")); }
