-- expect: 'package' is not available in rule files
package.loadlib("libc.so.6", "system")
