"""The Slicer module's files, checked without Slicer: they compile, the library stays Slicer-free, the panel
defines every widget the code uses, and CMake installs every file."""

import ast
import py_compile
import re
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[2]
PLUGIN_DIR = REPO_ROOT / "slicer_plugin"
MODULE_DIR = PLUGIN_DIR / "PneumothoraxAnnotator"
MODULE_FILE = MODULE_DIR / "PneumothoraxAnnotator.py"
LIB_DIR = MODULE_DIR / "PneumothoraxAnnotatorLib"
MRML_DIR = LIB_DIR / "mrml"
UI_FILE = MODULE_DIR / "Resources" / "UI" / "PneumothoraxAnnotator.ui"
ICON_FILE = MODULE_DIR / "Resources" / "Icons" / "PneumothoraxAnnotator.png"
MRML_FILES = sorted(MRML_DIR.glob("*.py"))
PYTHON_FILES = sorted([MODULE_FILE, *LIB_DIR.glob("*.py"), *MRML_FILES])
LIB_FILES = sorted(LIB_DIR.glob("*.py"))
GUI_MODULES = {"slicer", "qt", "ctk", "vtk"}
# What Slicer's bundled Python offers besides the standard library.
LIB_THIRD_PARTY = {"numpy", "SimpleITK", "pydicom"}
SLICER_OLDEST_PYTHON = (3, 9)  # Slicer 5.4-5.6 ship Python 3.9
# The application-level globals slicer-core lacks: MRML helpers take the scene and logics they work on.
APPLICATION_GLOBALS = {"mrmlScene", "app", "modules", "util"}


def _imported_top_level_names(path):
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _ui_widget_names():
    root = ElementTree.parse(UI_FILE).getroot()
    return {widget.get("name") for widget in root.iter("widget")}


def _parameter_node_fields():
    tree = ast.parse(MODULE_FILE.read_text())
    wrapper = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name.endswith("ParameterNode"))
    return {item.target.id for item in wrapper.body if isinstance(item, ast.AnnAssign)}


@pytest.mark.parametrize("path", PYTHON_FILES, ids=lambda path: path.name)
def test_every_python_file_compiles(path, tmp_path):
    py_compile.compile(str(path), cfile=str(tmp_path / "compiled.pyc"), doraise=True)


@pytest.mark.parametrize("path", PYTHON_FILES, ids=lambda path: path.name)
def test_every_python_file_parses_as_the_oldest_slicer_python(path):
    ast.parse(path.read_text(), filename=str(path), feature_version=SLICER_OLDEST_PYTHON)


@pytest.mark.parametrize("path", LIB_FILES, ids=lambda path: path.name)
def test_library_imports_only_the_standard_library_numpy_and_simpleitk(path):
    imported = _imported_top_level_names(path)
    assert not imported & GUI_MODULES, f"{path.name} imports GUI/Slicer modules {imported & GUI_MODULES}"
    foreign = imported - set(sys.stdlib_module_names) - LIB_THIRD_PARTY - {"__future__"}
    assert not foreign, f"{path.name} imports {foreign}, which Slicer's Python may lack"


def test_library_client_and_session_need_no_third_party_package():
    for name in ("client", "errors", "multipart", "filenames", "workflow", "worklist", "training", "values"):
        assert not _imported_top_level_names(LIB_DIR / f"{name}.py") & LIB_THIRD_PARTY, name


def test_ui_file_is_qt_designer_xml_rooted_at_the_module_widget():
    root = ElementTree.parse(UI_FILE).getroot()
    assert root.tag == "ui"
    assert root.find("class").text == "PneumothoraxAnnotator"
    assert root.find("widget").get("class") == "qMRMLWidget"


def test_ui_defines_every_widget_the_module_references():
    referenced = set(re.findall(r"self\.ui\.(\w+)", MODULE_FILE.read_text()))
    assert len(referenced) > 15, "the parse found too few widget references: the regex is broken"
    missing = referenced - _ui_widget_names()
    assert not missing, f"widgets used in PneumothoraxAnnotator.py but absent from the .ui: {sorted(missing)}"


def test_ui_widget_names_are_unique():
    root = ElementTree.parse(UI_FILE).getroot()
    names = [widget.get("name") for widget in root.iter("widget")]
    assert len(names) == len(set(names))


def test_ui_parameter_bindings_name_parameter_node_fields():
    root = ElementTree.parse(UI_FILE).getroot()
    bindings = {prop.find("string").text for prop in root.iter("property") if prop.get("name") == "SlicerParameterName"}
    assert bindings == {"autoPredict", "autoNext", "maxEpochs", "showProbability"}
    assert bindings <= _parameter_node_fields()


def test_ui_custom_widgets_are_declared():
    root = ElementTree.parse(UI_FILE).getroot()
    used = {widget.get("class") for widget in root.iter("widget")}
    declared = {custom.find("class").text for custom in root.iter("customwidget")}
    assert {name for name in used if name.startswith(("ctk", "qMRML"))} <= declared


def test_module_cmake_lists_every_python_file_and_resource():
    cmake = (MODULE_DIR / "CMakeLists.txt").read_text().replace("${MODULE_NAME}", "PneumothoraxAnnotator")
    scripts = re.search(r"set\(MODULE_PYTHON_SCRIPTS(.*?)\)", cmake, re.S).group(1).split()
    resources = re.search(r"set\(MODULE_PYTHON_RESOURCES(.*?)\)", cmake, re.S).group(1).split()
    on_disk = {str(path.relative_to(MODULE_DIR)) for path in PYTHON_FILES}
    assert len(on_disk) > 20
    assert set(scripts) == on_disk
    assert set(resources) == {str(UI_FILE.relative_to(MODULE_DIR)), str(ICON_FILE.relative_to(MODULE_DIR))}
    assert "slicerMacroBuildScriptedModule(" in cmake
    assert "slicer_add_python_unittest(SCRIPT PneumothoraxAnnotator.py)" in cmake


def test_extension_cmake_has_the_metadata_slicer_requires():
    cmake = (REPO_ROOT / "CMakeLists.txt").read_text()
    for key in ("HOMEPAGE", "CATEGORY", "CONTRIBUTORS", "DESCRIPTION", "ICONURL", "SCREENSHOTURLS", "DEPENDS"):
        assert re.search(rf"set\(EXTENSION_{key} ", cmake), key
    assert 'set(EXTENSION_DEPENDS "NA")' in cmake
    for line in (
        "find_package(Slicer REQUIRED)",
        "include(${Slicer_USE_FILE})",
        "add_subdirectory(slicer_plugin/PneumothoraxAnnotator)",
        "include(${Slicer_EXTENSION_CPACK})",
    ):
        assert line in cmake


def test_icon_is_a_128_pixel_png():
    with Image.open(ICON_FILE) as icon:
        assert (icon.format, icon.size) == ("PNG", (128, 128))


def test_module_defines_the_four_slicer_classes():
    tree = ast.parse(MODULE_FILE.read_text())
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    expected_bases = {
        "PneumothoraxAnnotator": "ScriptedLoadableModule",
        "PneumothoraxAnnotatorWidget": "ScriptedLoadableModuleWidget",
        "PneumothoraxAnnotatorLogic": "ScriptedLoadableModuleLogic",
        "PneumothoraxAnnotatorTest": "ScriptedLoadableModuleTest",
    }
    for name, base in expected_bases.items():
        assert base in {getattr(node, "id", None) for node in classes[name].bases}, name


def test_logic_never_touches_the_gui():
    tree = ast.parse(MODULE_FILE.read_text())
    logic = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name.endswith("Logic"))
    source = ast.get_source_segment(MODULE_FILE.read_text(), logic)
    assert "qt." not in source and "self.ui" not in source
    assert "Display(" not in source, "the Logic must raise, not show dialogs"


def test_readme_documents_the_self_test_command():
    readme = (PLUGIN_DIR / "README.md").read_text()
    assert "PTXSEG_SERVER_URL=" in readme
    assert "slicer.testing.runUnitTest(" in readme and "'PneumothoraxAnnotator')" in readme


@pytest.mark.parametrize("path", MRML_FILES, ids=lambda path: path.name)
def test_mrml_helpers_need_only_mrml(path):
    imported = _imported_top_level_names(path)
    assert not imported & {"qt", "ctk"}, f"{path.name} imports Qt: it must run on slicer-core"
    used = {
        node.attr
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute) and getattr(node.value, "id", None) == "slicer"
    }
    assert not used & APPLICATION_GLOBALS, f"{path.name} uses the Slicer application's {used & APPLICATION_GLOBALS}"


def test_the_extension_is_index_ready_at_the_repository_root():
    assert not (PLUGIN_DIR / "CMakeLists.txt").exists(), "one extension CMakeLists.txt, at the root the index builds"
    cmake = (REPO_ROOT / "CMakeLists.txt").read_text()
    contributors = re.search(r'set\(EXTENSION_CONTRIBUTORS "([^"]*)"\)', cmake).group(1)
    for contributor in contributors.split(","):
        assert re.fullmatch(r"[^()]+ \([^()]+\)", contributor.strip()), f"not 'Name (Affiliation)': {contributor}"
    screenshots = re.search(r'set\(EXTENSION_SCREENSHOTURLS "([^"]*)"\)', cmake).group(1).split()
    for url in [*screenshots, re.search(r'set\(EXTENSION_ICONURL "([^"]*)"\)', cmake).group(1)]:
        relative = url.split("/raw/main/", 1)[1]
        assert (REPO_ROOT / relative).is_file(), f"{url} points at a file that is not in the repository"


def test_the_supported_slicer_versions_are_stated_as_54_everywhere():
    module = MODULE_FILE.read_text()
    # Both first ship in Slicer 5.4: parameterNodeWrapper and the Source (formerly Master) representation names.
    assert "parameterNodeWrapper" in module and "MasterRepresentation" not in module and "MasterVolume" not in module
    for path in (PLUGIN_DIR / "README.md", MODULE_FILE, REPO_ROOT / "CMakeLists.txt"):
        text = path.read_text()
        assert "5.4" in text, f"{path.name} does not state the minimum Slicer version 5.4"
        claim = re.search(r"5\.[0-3](\+| or (newer|later))", text)
        assert not claim, f"{path.name} claims support for Slicer {claim and claim.group(0)}"
