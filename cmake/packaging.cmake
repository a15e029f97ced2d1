# Install rules for the documentation that ships with the binary, and the
# Debian package (CPack DEB) that scripts/release.sh builds. The man page and
# the bash completion are installed only when they exist in the source tree,
# so this file works before and after they are added; their install rules
# live here only, so they are not installed twice.

set(IOCSWEEP_MAN_PAGE ${PROJECT_SOURCE_DIR}/docs/iocsweep.1)
if(EXISTS ${IOCSWEEP_MAN_PAGE})
  # Debian policy wants man pages gzipped; -n leaves the name and time out of
  # the gzip header so the package stays byte-identical between builds.
  find_program(IOCSWEEP_GZIP gzip REQUIRED)
  set(IOCSWEEP_MAN_GZ ${PROJECT_BINARY_DIR}/generated/iocsweep.1.gz)
  add_custom_command(
    OUTPUT ${IOCSWEEP_MAN_GZ}
    COMMAND ${IOCSWEEP_GZIP} -n -9 -c ${IOCSWEEP_MAN_PAGE} > ${IOCSWEEP_MAN_GZ}
    DEPENDS ${IOCSWEEP_MAN_PAGE}
    COMMENT "Compressing the man page")
  add_custom_target(iocsweep_man ALL DEPENDS ${IOCSWEEP_MAN_GZ})
  install(FILES ${IOCSWEEP_MAN_GZ} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
endif()

set(IOCSWEEP_BASH_COMPLETION ${PROJECT_SOURCE_DIR}/contrib/bash-completion/iocsweep)
if(EXISTS ${IOCSWEEP_BASH_COMPLETION})
  install(FILES ${IOCSWEEP_BASH_COMPLETION} DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
endif()

# The .deb. Its architecture is the target's Debian name (amd64, arm64), asked
# of dpkg-architecture when cross-compiling would make dpkg --print-architecture
# wrong; scripts/release.sh passes IOCSWEEP_DEB_ARCH explicitly.
set(IOCSWEEP_DEB_ARCH "" CACHE STRING "Debian architecture of the package (default: dpkg --print-architecture)")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME iocsweep)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "iocsweep maintainers")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "offline IOC sweep scanner (hashes, YARA, archives, images)")
set(CPACK_PACKAGE_DESCRIPTION "One static binary that walks a filesystem, reads each file once, \
matches its MD5, SHA-1 and SHA-256 against hash indicator lists and its bytes against YARA rules, and \
reports findings as JSON, NDJSON, CSV, SARIF or text. The built-in rule pack and indicator lists are embedded.")
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Fully static: the package depends on nothing.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS OFF)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
if(IOCSWEEP_DEB_ARCH)
  set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE ${IOCSWEEP_DEB_ARCH})
endif()
# Only what install() names, owned by root, with no build-machine paths.
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_SOURCE_GENERATOR "")
include(CPack)
