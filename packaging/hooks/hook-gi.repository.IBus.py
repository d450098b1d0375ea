# PyInstaller hook: the IBus typelib and libibus for the frozen IBus engine (PyInstaller's own gi
# hooks cover GLib, GObject and Gio, which IBus pulls in as hidden imports).
from PyInstaller.utils.hooks.gi import GiModuleInfo

module_info = GiModuleInfo("IBus", "1.0")
if module_info.available:
    binaries, datas, hiddenimports = module_info.collect_typelib_data()
