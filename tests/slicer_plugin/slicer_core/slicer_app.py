"""A stand-in for what slicer-core lacks of the Slicer application (Qt, the module system, ``slicer.app``), so
the module file itself imports and its Logic runs on slicer-core's real MRML against the live server.

Only what the Logic and the module class touch is provided, each as Slicer's own does it; the Widget needs Qt
and is covered by the Slicer self-test.
"""

import sys
import types
import unittest

import slicer
import slicer.util


class ScriptedLoadableModule:
    def __init__(self, parent):
        self.parent = parent
        self.moduleName = type(self).__name__

    def runTest(self, msec=100, **kwargs):
        """As Slicer's: what *Reload and Test* calls; runs ``<Module>Test().runTest()`` directly, no runner."""
        module = sys.modules[type(self).__module__]
        testCase = getattr(module, self.moduleName + "Test")()
        testCase.messageDelay = msec
        testCase.runTest(**kwargs)


class ScriptedLoadableModuleLogic:
    def __init__(self, parent=None):
        self.moduleName = type(self).__name__.removesuffix("Logic")

    def getParameterNode(self):
        node = slicer.mrmlScene.GetSingletonNode(self.moduleName, "vtkMRMLScriptedModuleNode")
        if node is None:
            node = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLScriptedModuleNode")
            node.SetSingletonTag(self.moduleName)
        return node


class ScriptedLoadableModuleWidget:
    pass


class ScriptedLoadableModuleTest(unittest.TestCase):
    def delayDisplay(self, message, msec=None):
        pass


def parameterNodeWrapper(cls):
    """Typed attributes kept per parameter node, defaults from the class, as Slicer's wrapper presents them."""
    defaults = {name: getattr(cls, name, None) for name in cls.__annotations__}
    values = {}

    class Wrapped:
        def __init__(self, node):
            key = (id(node.GetScene()), node.GetID())
            object.__setattr__(self, "_values", values.setdefault(key, dict(defaults)))

        def __getattr__(self, name):
            return self._values[name]

        def __setattr__(self, name, value):
            if name not in defaults:
                raise AttributeError(f"{cls.__name__} has no parameter {name}")
            self._values[name] = value

    return Wrapped


def install(volumes_logic, temporary_path):
    """Point ``slicer.mrmlScene``, ``slicer.app`` and ``slicer.modules.volumes`` at this test's scene."""
    sys.modules.setdefault("qt", types.ModuleType("qt"))
    scripted = types.ModuleType("slicer.ScriptedLoadableModule")
    for base in (ScriptedLoadableModule, ScriptedLoadableModuleLogic, ScriptedLoadableModuleWidget):
        setattr(scripted, base.__name__, base)
    scripted.ScriptedLoadableModuleTest = ScriptedLoadableModuleTest
    sys.modules["slicer.ScriptedLoadableModule"] = scripted
    wrapper = types.ModuleType("slicer.parameterNodeWrapper")
    wrapper.parameterNodeWrapper = parameterNodeWrapper
    wrapper.WithinRange = lambda low, high: (low, high)
    sys.modules["slicer.parameterNodeWrapper"] = wrapper
    slicer.mrmlScene = volumes_logic.GetMRMLScene()
    slicer.app = types.SimpleNamespace(
        temporaryPath=str(temporary_path), layoutManager=lambda: None, processEvents=lambda: None
    )
    slicer.modules = types.SimpleNamespace(volumes=types.SimpleNamespace(logic=lambda: volumes_logic))
    slicer.util.showStatusMessage = lambda message, duration=0: None
