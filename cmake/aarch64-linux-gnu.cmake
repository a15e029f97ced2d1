# Cross-compiles for aarch64 Linux on a Debian amd64 host with multiarch:
# crossbuild-essential-arm64 for the compilers, the :arm64 -dev packages for
# the libraries (scripts/install-deps.sh --cross arm64). Used by the
# static-aarch64 preset.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

# Multiarch keeps the arm64 libraries and headers in the host's /usr, under
# aarch64-linux-gnu subdirectories the cross compiler searches by itself; so
# the root stays /usr and only the library directory decides the architecture.
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)

# pkg-config reads only the arm64 .pc files (and the arch-independent ones),
# never the host's, which would hand the linker amd64 libraries.
# /usr/local/lib/aarch64-linux-gnu holds the arm64 libraries whose Debian
# packages cannot be installed beside the amd64 ones (libtsk, libewf:
# scripts/install-deps.sh unpacks them there).
set(ENV{PKG_CONFIG_LIBDIR}
    /usr/local/lib/aarch64-linux-gnu/pkgconfig:/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")

# FindOpenSSL needs no hint: CMAKE_LIBRARY_ARCHITECTURE makes it search
# /usr/lib/aarch64-linux-gnu, so it takes the arm64 libcrypto.a.

# try_run and anything CMake runs of the target's code go through qemu-user.
set(CMAKE_CROSSCOMPILING_EMULATOR /usr/bin/qemu-aarch64-static)
