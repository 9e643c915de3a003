# Runs at install time (install(SCRIPT) in CMakeLists.txt), when CMAKE_INSTALL_PREFIX is the
# real one: `make install PREFIX=...` and CPack's DEB staging (prefix /usr, DESTDIR) alike. The
# units name the installed binary and config directory, so they are configured here.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(HP_CONFDIR /etc/kaspa-holepunch) # Debian: /usr's config lives in /etc
else()
  set(HP_CONFDIR ${CMAKE_INSTALL_PREFIX}/etc/kaspa-holepunch)
endif()
set(HP_BINDIR ${CMAKE_INSTALL_PREFIX}/bin)
set(HP_DOCDIR ${CMAKE_INSTALL_PREFIX}/share/doc/kaspa-holepunch)
foreach(unit holepunch-relay.service holepunch-server.service holepunch-bridge.service)
  configure_file(${HP_SRC}/packaging/systemd/${unit}.in ${HP_BUILD}/packaging/${unit} @ONLY)
  file(INSTALL ${HP_BUILD}/packaging/${unit}
    DESTINATION ${CMAKE_INSTALL_PREFIX}/lib/systemd/system)
endforeach()
# An operator's edited file is kept on a reinstall (dpkg keeps it as a conffile anyway).
foreach(conf relay.conf server.conf bridge.conf)
  if(NOT EXISTS "$ENV{DESTDIR}${HP_CONFDIR}/${conf}")
    file(INSTALL ${HP_SRC}/packaging/config/${conf} DESTINATION ${HP_CONFDIR})
  endif()
endforeach()
