# gi.repository.IBus exists only at run time (introspection): make it a module whose hook runs.
def pre_safe_import_module(api):
    api.add_runtime_module(api.module_name)
