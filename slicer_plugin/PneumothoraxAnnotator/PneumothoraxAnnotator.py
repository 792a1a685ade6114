"""3D Slicer module: annotate pneumothorax on chest X-rays with a ptxseg MONAI Label server.

Module / Widget / Logic / Test as Slicer's scripted-module template lays them out. The Widget only mirrors
``logic.session`` and calls the Logic; the Logic (no GUI) loads images, turns server labels into a segment
and back; everything that needs no MRML lives in ``PneumothoraxAnnotatorLib`` and is tested with pytest.
"""

import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import qt
import slicer
import vtk
from PneumothoraxAnnotatorLib import (
    DEFAULT_MODEL,
    STRATEGIES,
    AnnotationSession,
    ClientError,
    Prediction,
    PtxsegClient,
    ServerBusy,
    ServerInfo,
    TrainingProgress,
)
from PneumothoraxAnnotatorLib.grid import Grid
from slicer import vtkMRMLScalarVolumeNode, vtkMRMLSegmentationNode
from slicer.parameterNodeWrapper import WithinRange, parameterNodeWrapper
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin

SEGMENT_ID = "pneumothorax"
SEGMENT_COLOR = (1.0, 0.35, 0.2)
SERVER_URL_ENV = "PTXSEG_SERVER_URL"
SERVER_TOKEN_ENV = "PTXSEG_SERVER_TOKEN"
TRAINING_TIMEOUT_ENV = "PTXSEG_TRAINING_TIMEOUT_S"
DEFAULT_SERVER_URL = "http://127.0.0.1:8000"
TRAINING_POLL_MS = 2000
SERVER_HISTORY_LENGTH = 10
WORKLIST_COLUMNS = ("Image", "Probability", "Flag", "Scored by")
FLAGGED_ROW_COLOR = (255, 215, 215)
IMAGE_ID_ATTRIBUTE = "PneumothoraxAnnotator.imageId"


class PneumothoraxAnnotator(ScriptedLoadableModule):
    """Module description shown in Slicer's module panel and Help."""

    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = "Pneumothorax Annotator"
        self.parent.categories = ["Segmentation"]
        self.parent.dependencies = []
        self.parent.contributors = ["ptxseg contributors"]
        self.parent.helpText = """
Annotate pneumothorax on chest X-rays with a ptxseg MONAI Label server: get the next image by active
learning or from the triage worklist, see the model's outline, correct it with the Segment Editor, submit
it, and fine-tune the model on the submitted labels. Shortcuts: N next image, P predict, S submit.
"""
        self.parent.acknowledgementText = """
Uses MONAI Label's REST API and the EfficientNet-B4 U-Net of the ptxseg project.
"""


@parameterNodeWrapper
class PneumothoraxAnnotatorParameterNode:
    """Scene-saved state: the open image and its segmentation, and the annotator's session options."""

    imageVolume: vtkMRMLScalarVolumeNode
    segmentation: vtkMRMLSegmentationNode
    strategy: str = STRATEGIES[0]
    autoPredict: bool = True
    autoNext: bool = True
    maxEpochs: Annotated[int, WithinRange(1, 1000)] = 1


class PneumothoraxAnnotatorWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    """Mirrors ``logic.session`` in the GUI and turns clicks and shortcuts into Logic calls."""

    def __init__(self, parent=None):
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._shortcuts = []
        self._trainingTimer = None
        self._shownWorklist = None

    def setup(self):
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/PneumothoraxAnnotator.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)

        self.logic = PneumothoraxAnnotatorLogic()
        self.logic.sessionChangedCallback = self.updateGUIFromSession

        self.ui.serverComboBox.lineEdit().setPlaceholderText(DEFAULT_SERVER_URL)
        self._loadServerHistory()
        self.ui.strategyComboBox.addItems(list(STRATEGIES))
        self.ui.worklistTable.setColumnCount(len(WORKLIST_COLUMNS))
        self.ui.worklistTable.setHorizontalHeaderLabels(list(WORKLIST_COLUMNS))
        self.ui.worklistTable.setEditTriggers(qt.QAbstractItemView.NoEditTriggers)
        self.ui.worklistTable.setSelectionBehavior(qt.QAbstractItemView.SelectRows)
        self.ui.embeddedSegmentEditorWidget.setMRMLScene(slicer.mrmlScene)
        self.ui.embeddedSegmentEditorWidget.setMRMLSegmentEditorNode(self.logic.getSegmentEditorNode())

        self._trainingTimer = qt.QTimer()
        self._trainingTimer.setInterval(TRAINING_POLL_MS)
        self._trainingTimer.connect("timeout()", self.onTrainingTimer)

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)

        self.ui.connectButton.connect("clicked(bool)", self.onConnect)
        self.ui.strategyComboBox.connect("currentTextChanged(QString)", self.onStrategyChanged)
        self.ui.nextImageButton.connect("clicked(bool)", self.onNextImage)
        self.ui.predictButton.connect("clicked(bool)", self.onPredict)
        self.ui.submitButton.connect("clicked(bool)", self.onSubmit)
        self.ui.startTrainingButton.connect("clicked(bool)", self.onStartTraining)
        self.ui.stopTrainingButton.connect("clicked(bool)", self.onStopTraining)
        self.ui.scoreButton.connect("clicked(bool)", self.onScore)
        self.ui.refreshWorklistButton.connect("clicked(bool)", self.onRefreshWorklist)
        self.ui.worklistTable.connect("cellDoubleClicked(int,int)", self.onWorklistDoubleClicked)

        self.initializeParameterNode()
        self.updateGUIFromSession()

    def cleanup(self):
        self._trainingTimer.stop()
        self._removeShortcuts()
        self.removeObservers()
        self.logic.removeObservers()

    def enter(self):
        self.initializeParameterNode()
        self._installShortcuts()
        self.ui.embeddedSegmentEditorWidget.installKeyboardShortcuts()

    def exit(self):
        self._removeShortcuts()
        self.ui.embeddedSegmentEditorWidget.setActiveEffect(None)
        self.ui.embeddedSegmentEditorWidget.uninstallKeyboardShortcuts()
        self.setParameterNode(None)

    def onSceneStartClose(self, caller, event):
        self.setParameterNode(None)
        self.logic.session.close_image()

    def onSceneEndClose(self, caller, event):
        if self.parent.isEntered:
            self.initializeParameterNode()
        self.updateGUIFromSession()

    def initializeParameterNode(self):
        self.setParameterNode(self.logic.getParameterNode())

    def setParameterNode(self, inputParameterNode):
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.ui.strategyComboBox.setCurrentText(self._parameterNode.strategy)
            self._showInSegmentEditor()

    def onConnect(self):
        serverUrl = self.ui.serverComboBox.currentText.strip() or DEFAULT_SERVER_URL
        with slicer.util.tryWithErrorDisplay(f"Cannot connect to {serverUrl}.", waitCursor=True):
            info = self.logic.connect(serverUrl, self.ui.tokenLineEdit.text.strip() or None)
            self._saveServerHistory(serverUrl)
            self._showStrategies(info)
            if info.warning:
                slicer.util.warningDisplay(info.warning, windowTitle="Pneumothorax Annotator")
            if self.logic.pollTraining().running:
                self._trainingTimer.start()
            self.logic.refreshWorklist()

    def onStrategyChanged(self, strategy):
        if self._parameterNode and strategy:
            self._parameterNode.strategy = strategy

    def onNextImage(self):
        if not self.logic.session.can_next or not self._mayLeaveImage():
            return
        with slicer.util.tryWithErrorDisplay("Failed to get the next image.", waitCursor=True):
            imageId = self.logic.nextImage(self._parameterNode.strategy)
            if imageId is None:
                slicer.util.infoDisplay("The server has no more images to annotate with this strategy.")
                return
            self._openImage(imageId)

    def onWorklistDoubleClicked(self, row, column):
        item = self.ui.worklistTable.item(row, 0)
        if item is None or not self.logic.session.connected or not self._mayLeaveImage():
            return
        with slicer.util.tryWithErrorDisplay("Failed to open the image.", waitCursor=True):
            self._openImage(item.data(qt.Qt.UserRole))

    def onPredict(self):
        if not self.logic.session.can_predict:
            return
        with slicer.util.tryWithErrorDisplay("Prediction failed.", waitCursor=True):
            self.logic.predict()

    def onSubmit(self):
        if not self.logic.session.can_submit:
            return
        with slicer.util.tryWithErrorDisplay("Submitting the label failed.", waitCursor=True):
            self.ui.embeddedSegmentEditorWidget.setActiveEffect(None)
            self.logic.submit({"client": "PneumothoraxAnnotator"})
        if self.logic.session.submitted and self._parameterNode.autoNext:
            self.onNextImage()

    def onStartTraining(self):
        if not self.logic.session.can_start_training:
            return
        with slicer.util.tryWithErrorDisplay("Could not start fine-tuning.", waitCursor=True):
            self.logic.startTraining({"max_epochs": self._parameterNode.maxEpochs})
            self._trainingTimer.start()

    def onStopTraining(self):
        with slicer.util.tryWithErrorDisplay("Could not stop fine-tuning.", waitCursor=True):
            self.logic.stopTraining()

    def onTrainingTimer(self):
        try:
            progress = self.logic.pollTraining()
            if progress.finished:
                self._trainingTimer.stop()
                self.logic.refreshServerInfo()
        except ClientError as error:
            # A poll runs every few seconds: report in the panel instead of stacking dialogs.
            self._trainingTimer.stop()
            self.ui.trainingStatusLabel.text = f"Lost contact while fine-tuning: {error}"

    def onScore(self):
        with slicer.util.tryWithErrorDisplay("Could not start scoring.", waitCursor=True):
            self.logic.startScoring()
            self.ui.statusLabel.text = "Scoring unlabelled images; press Refresh to see new scores."

    def onRefreshWorklist(self):
        with slicer.util.tryWithErrorDisplay("Could not load the worklist.", waitCursor=True):
            self.logic.refreshWorklist()

    def updateGUIFromSession(self):
        """Enable what the session allows now and show where it stands."""
        session = self.logic.session
        self.ui.nextImageButton.enabled = session.can_next
        self.ui.predictButton.enabled = session.can_predict
        self.ui.submitButton.enabled = session.can_submit
        self.ui.startTrainingButton.enabled = session.can_start_training
        self.ui.stopTrainingButton.enabled = session.can_stop_training
        self.ui.scoreButton.enabled = session.can_refresh_worklist
        self.ui.refreshWorklistButton.enabled = session.can_refresh_worklist
        self.ui.modelStatusLabel.text = session.server.summary() if session.server else "Not connected"
        self.ui.predictionLabel.text = session.prediction.summary() if session.prediction else ""
        self.ui.statusLabel.text = session.status_text()
        self._showTraining(session.training)
        self._showWorklist(session)

    def _mayLeaveImage(self):
        session = self.logic.session
        if not session.has_unsubmitted_edits:
            return True
        return slicer.util.confirmYesNoDisplay(
            f"{session.image_id} has edits that were not submitted. Leave it anyway?"
        )

    def _openImage(self, imageId):
        self.logic.openImage(imageId)
        self._showInSegmentEditor()
        if self._parameterNode.autoPredict:
            self.logic.predict()

    def _showInSegmentEditor(self):
        editor = self.ui.embeddedSegmentEditorWidget
        editor.setSegmentationNode(self._parameterNode.segmentation if self._parameterNode else None)
        editor.setSourceVolumeNode(self._parameterNode.imageVolume if self._parameterNode else None)
        if self._parameterNode and self._parameterNode.segmentation:
            editor.setCurrentSegmentID(SEGMENT_ID)

    def _showStrategies(self, info):
        current = self.ui.strategyComboBox.currentText
        self.ui.strategyComboBox.clear()
        self.ui.strategyComboBox.addItems(list(info.strategies or STRATEGIES))
        self.ui.strategyComboBox.setCurrentText(current)

    def _showTraining(self, progress):
        bar = self.ui.trainingProgressBar
        bar.visible = progress.running or progress.finished
        if progress.running and progress.fraction is None:
            bar.setRange(0, 0)  # busy indicator until the log tells the epoch
        else:
            bar.setRange(0, 100)
            bar.setValue(int(round(100 * (progress.fraction or 0.0))))
        self.ui.trainingStatusLabel.text = progress.describe() if progress.state != "idle" else ""

    def _showWorklist(self, session):
        # The session replaces the list on every refresh; skip the rebuild on the many other updates (brush strokes).
        if session.worklist is self._shownWorklist:
            return
        self._shownWorklist = session.worklist
        table = self.ui.worklistTable
        table.setSortingEnabled(False)
        table.setRowCount(len(session.worklist))
        flaggedBrush = qt.QBrush(qt.QColor(*FLAGGED_ROW_COLOR))
        for rowIndex, row in enumerate(session.worklist):
            texts = (row.image_id, row.probability_text, row.flag_text, row.model_version or "")
            for columnIndex, text in enumerate(texts):
                item = qt.QTableWidgetItem(text)
                item.setData(qt.Qt.UserRole, row.image_id)
                if row.flagged:
                    item.setBackground(flaggedBrush)
                if row.stale:
                    item.setToolTip("Scored by an older model: press Score to update.")
                table.setItem(rowIndex, columnIndex, item)
        table.resizeColumnsToContents()

    def _installShortcuts(self):
        self._removeShortcuts()
        for key, callback in (("N", self.onNextImage), ("P", self.onPredict), ("S", self.onSubmit)):
            shortcut = qt.QShortcut(qt.QKeySequence(key), slicer.util.mainWindow())
            shortcut.connect("activated()", callback)
            self._shortcuts.append(shortcut)

    def _removeShortcuts(self):
        for shortcut in self._shortcuts:
            shortcut.disconnect("activated()")
            shortcut.setParent(None)
        self._shortcuts = []

    def _loadServerHistory(self):
        history = qt.QSettings().value(f"{self.moduleName}/serverUrlHistory") or [DEFAULT_SERVER_URL]
        history = [history] if isinstance(history, str) else list(history)
        self.ui.serverComboBox.clear()
        self.ui.serverComboBox.addItems(history)
        self.ui.serverComboBox.setCurrentText(history[0])

    def _saveServerHistory(self, serverUrl):
        items = [self.ui.serverComboBox.itemText(index) for index in range(self.ui.serverComboBox.count)]
        history = [serverUrl] + [url for url in items if url != serverUrl]
        qt.QSettings().setValue(f"{self.moduleName}/serverUrlHistory", history[:SERVER_HISTORY_LENGTH])
        self._loadServerHistory()


class PneumothoraxAnnotatorLogic(ScriptedLoadableModuleLogic, VTKObservationMixin):
    """The annotation cycle without GUI: usable from the Python console, the Test and the Widget.

    Keeps ``session`` (PneumothoraxAnnotatorLib.AnnotationSession) in step with the scene and calls
    ``sessionChangedCallback`` after every change.
    """

    def __init__(self):
        ScriptedLoadableModuleLogic.__init__(self)
        VTKObservationMixin.__init__(self)
        self.client = None
        self.session = AnnotationSession()
        self.sessionChangedCallback = None
        self.workDir = Path(slicer.app.temporaryPath) / "PneumothoraxAnnotator"

    def getParameterNode(self):
        return PneumothoraxAnnotatorParameterNode(super().getParameterNode())

    def getSegmentEditorNode(self):
        """The module's own segment editor node, so its settings do not disturb the Segment Editor module's."""
        node = slicer.mrmlScene.GetSingletonNode("PneumothoraxAnnotator", "vtkMRMLSegmentEditorNode")
        if node is None:
            node = slicer.mrmlScene.CreateNodeByClass("vtkMRMLSegmentEditorNode")
            node.UnRegister(None)
            node.SetSingletonTag("PneumothoraxAnnotator")
            node = slicer.mrmlScene.AddNode(node)
        return node

    def connect(self, serverUrl, token=None):
        """Connect to a server; returns what its ``/info/`` says (ServerInfo)."""
        client = PtxsegClient(serverUrl, token=token)
        info = ServerInfo.from_info(client.info())
        self.client = client
        self.session.connect(client.server_url, info)
        self._sessionChanged()
        return info

    def refreshServerInfo(self):
        """Re-read ``/info/`` (model version, label counts)."""
        info = ServerInfo.from_info(self._client().info())
        self.session.connect(self.client.server_url, info)
        self._sessionChanged()
        return info

    def nextImage(self, strategy):
        """The next image id by an active learning strategy, None when none is left (nothing is loaded)."""
        return self._client().next_image(strategy)

    def openImage(self, imageId):
        """Download and show an image as a single-slice volume with an empty pneumothorax segment."""
        self.workDir.mkdir(parents=True, exist_ok=True)
        imagePath = self._client().download_image(imageId, self.workDir)
        parameterNode = self.getParameterNode()
        previousVolume = parameterNode.imageVolume
        volumeNode = slicer.util.loadVolume(str(imagePath), {"singleFile": True, "show": False, "name": imageId})
        volumeNode.SetAttribute(IMAGE_ID_ATTRIBUTE, imageId)
        parameterNode.imageVolume = volumeNode
        if previousVolume is not None:
            slicer.mrmlScene.RemoveNode(previousVolume)
        self._resetSegmentation(volumeNode)
        self._showInSliceViews(volumeNode)
        self.session.open_image(imageId)
        self._sessionChanged()
        return volumeNode

    def predict(self):
        """Run the server's model on the open image and put its outline in the segment; returns Prediction."""
        self._requireImage()
        volumeNode = self.getParameterNode().imageVolume
        labelPath, result = self._client().infer(self.session.image_id, self.workDir)
        self.setSegmentArray(self._readServerLabel(labelPath, volumeNode))
        prediction = Prediction.from_result(result)
        self.session.set_prediction(prediction)
        self._sessionChanged()
        return prediction

    def segmentArray(self):
        """The pneumothorax segment as a (rows, columns) uint8 array on the image's grid."""
        parameterNode = self.getParameterNode()
        volumeNode = parameterNode.imageVolume
        array = slicer.util.arrayFromSegmentBinaryLabelmap(parameterNode.segmentation, SEGMENT_ID, volumeNode)
        if array is None:  # an empty segment has no labelmap extent yet
            return np.zeros(self.imageShape(volumeNode), dtype=np.uint8)
        return (array.reshape(self.imageShape(volumeNode)) > 0).astype(np.uint8)

    def setSegmentArray(self, mask):
        """Replace the pneumothorax segment with a (rows, columns) mask on the image's grid."""
        parameterNode = self.getParameterNode()
        volumeNode = parameterNode.imageVolume
        mask = np.asarray(mask)
        if mask.shape != self.imageShape(volumeNode):
            raise ValueError(
                f"mask shape {mask.shape} is not the image's (rows, columns) {self.imageShape(volumeNode)}"
            )
        sliceArray = (mask > 0).astype(np.uint8)[np.newaxis]
        segmentation = parameterNode.segmentation
        slicer.util.updateSegmentBinaryLabelmapFromArray(sliceArray, segmentation, SEGMENT_ID, volumeNode)

    def exportLabel(self, path):
        """Write the segment as a label file (value 1 = pneumothorax) exactly on the image's grid."""
        volumeNode = self.getParameterNode().imageVolume
        labelNode = slicer.modules.volumes.logic().CreateAndAddLabelVolume(volumeNode, "PneumothoraxExport")
        try:
            slicer.util.updateVolumeFromArray(labelNode, self.segmentArray()[np.newaxis])
            if not slicer.util.saveNode(labelNode, str(path)):
                raise OSError(f"Slicer could not write the label to {path}")
        finally:
            slicer.mrmlScene.RemoveNode(labelNode)
        return Path(path)

    def submit(self, params=None):
        """Upload the segment as the image's final label; returns the server's answer."""
        self._requireImage()
        with tempfile.TemporaryDirectory(prefix="ptxseg-") as folder:
            labelPath = self.exportLabel(Path(folder) / "label.nrrd")
            answer = self._client().upload_label(self.session.image_id, labelPath, params)
        self.session.mark_submitted()
        self._sessionChanged()
        return answer

    def startTraining(self, params):
        """Start fine-tuning on the submitted labels."""
        self._client().start_training(params)
        return self.pollTraining()

    def pollTraining(self):
        """Read the training progress from the server into the session (one quick request)."""
        progress = TrainingProgress.from_status(self._client().training_status())
        self.session.update_training(progress)
        self._sessionChanged()
        return progress

    def stopTraining(self):
        """Stop the running fine-tuning."""
        self._client().stop_training()
        return self.pollTraining()

    def startScoring(self):
        """Let the server score the unlabelled images with the current model; None when a scoring already runs."""
        try:
            return self._client().start_scoring()
        except ServerBusy:
            return None  # MONAI Label also scores on its own; the running task fills the worklist the same way

    def refreshWorklist(self):
        """Reload the worklist, most likely pneumothorax first."""
        rows = self._client().worklist(current_model_version=self.session.server.model_version)
        self.session.set_worklist(rows)
        self._sessionChanged()
        return rows

    @staticmethod
    def imageShape(volumeNode):
        """(rows, columns) of a single-slice volume, also for RGB images."""
        columns, rows, _ = volumeNode.GetImageData().GetDimensions()
        return (rows, columns)

    @staticmethod
    def gridOf(volumeNode):
        """The pixel grid of a volume node (PneumothoraxAnnotatorLib.geometry.Grid)."""
        ijkToRas = vtk.vtkMatrix4x4()
        volumeNode.GetIJKToRASMatrix(ijkToRas)
        dimensions = volumeNode.GetImageData().GetDimensions()
        return Grid.from_ijk_to_ras(dimensions, slicer.util.arrayFromVTKMatrix(ijkToRas))

    def onSegmentationEdited(self, caller, event):
        self.session.mark_edited()
        self._sessionChanged()

    def _readServerLabel(self, labelPath, volumeNode):
        """The server label's mask, after checking it lies exactly on the image's grid."""
        labelNode = slicer.util.loadLabelVolume(str(labelPath), {"show": False, "singleFile": True})
        try:
            labelGrid, imageGrid = self.gridOf(labelNode), self.gridOf(volumeNode)
            if not labelGrid.matches(imageGrid):
                raise ValueError(
                    f"The server's label is not on the image's pixel grid (label {labelGrid}, image {imageGrid}); "
                    "report this to the server's maintainers: the outline would be misplaced."
                )
            return slicer.util.arrayFromVolume(labelNode)[0] > 0
        finally:
            slicer.mrmlScene.RemoveNode(labelNode)

    def _resetSegmentation(self, volumeNode):
        parameterNode = self.getParameterNode()
        segmentationNode = parameterNode.segmentation
        if segmentationNode is None:
            segmentationNode = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode", "Pneumothorax")
            segmentationNode.CreateDefaultDisplayNodes()
            segmentationNode.GetDisplayNode().SetOpacity2DFill(0.3)
            parameterNode.segmentation = segmentationNode
        self.removeObservers(self.onSegmentationEdited)
        segmentationNode.GetSegmentation().RemoveAllSegments()
        segmentationNode.SetReferenceImageGeometryParameterFromVolumeNode(volumeNode)
        segmentationNode.GetSegmentation().AddEmptySegment(SEGMENT_ID, "pneumothorax", SEGMENT_COLOR)
        edited = slicer.vtkSegmentation.SourceRepresentationModified
        self.addObserver(segmentationNode, edited, self.onSegmentationEdited)

    def _showInSliceViews(self, volumeNode):
        slicer.util.setSliceViewerLayers(background=volumeNode, foreground=None, label=None)
        redSlice = slicer.mrmlScene.GetNodeByID("vtkMRMLSliceNodeRed")
        if redSlice is not None:
            # X-rays come with arbitrary direction cosines; look at the image plane face-on.
            redSlice.RotateToVolumePlane(volumeNode)
        layoutManager = slicer.app.layoutManager()
        if layoutManager is not None:
            layoutManager.setLayout(slicer.vtkMRMLLayoutNode.SlicerLayoutOneUpRedSliceView)
            slicer.util.resetSliceViews()

    def _client(self):
        if self.client is None or not self.session.connected:
            raise ClientError("Not connected: press Connect first.")
        return self.client

    def _requireImage(self):
        if self.session.image_id is None or self.getParameterNode().imageVolume is None:
            raise ValueError("No image is open: press Next image or double-click a worklist row.")

    def _sessionChanged(self):
        if self.sessionChangedCallback is not None:
            self.sessionChangedCallback()


class PneumothoraxAnnotatorTest(ScriptedLoadableModuleTest):
    """The whole annotation cycle with real MRML nodes against the server named by $PTXSEG_SERVER_URL.

    Fine-tunes the server's model: point it at a throw-away server (e.g. one over phantom studies).
    """

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_annotation_cycle()

    def test_annotation_cycle(self):
        serverUrl = os.environ.get(SERVER_URL_ENV)
        if not serverUrl:
            self.skipTest(f"set {SERVER_URL_ENV} to a running ptxseg server (a throw-away one: it fine-tunes)")
        logic = PneumothoraxAnnotatorLogic()
        info = logic.connect(serverUrl, os.environ.get(SERVER_TOKEN_ENV))
        self.assertIn(DEFAULT_MODEL, info.models)

        self.delayDisplay("Next image by every strategy")
        for strategy in STRATEGIES:
            self.assertTrue(logic.nextImage(strategy), f"strategy {strategy} returned no image")
        volumeNode = logic.openImage(logic.nextImage("first"))
        self.assertEqual(volumeNode.GetImageData().GetDimensions()[2], 1, "a chest X-ray loads as one slice")

        self.delayDisplay("Predict: the label lies on the image's grid")
        labelPath, _ = logic.client.infer(logic.session.image_id, logic.workDir)
        labelNode = slicer.util.loadLabelVolume(str(labelPath), {"show": False, "singleFile": True})
        self.assertTrue(logic.gridOf(labelNode).matches(logic.gridOf(volumeNode)))
        prediction = logic.predict()
        self.assertTrue(prediction.probability is None or 0.0 <= prediction.probability <= 1.0)
        np.testing.assert_array_equal(logic.segmentArray(), slicer.util.arrayFromVolume(labelNode)[0] > 0)
        self.assertTrue(logic.session.can_submit)

        self.delayDisplay("Edit: erase the left half, add a block on the right")
        rows, columns = logic.imageShape(volumeNode)
        edited = logic.segmentArray().copy()
        edited[:, : columns // 2] = 0
        edited[rows // 8 : rows // 4, 5 * columns // 8 : 3 * columns // 4] = 1
        logic.setSegmentArray(edited)
        self.assertTrue(logic.session.edited, "editing the segment marks the session edited")

        self.delayDisplay("Submit: the server stores exactly the edited mask")
        logic.submit({"client": "PneumothoraxAnnotatorTest"})
        self.assertTrue(logic.session.submitted)
        storedPath = logic.client.download_label(logic.session.image_id, logic.workDir)
        storedNode = slicer.util.loadLabelVolume(str(storedPath), {"show": False, "singleFile": True})
        self.assertTrue(logic.gridOf(storedNode).matches(logic.gridOf(volumeNode)))
        np.testing.assert_array_equal(slicer.util.arrayFromVolume(storedNode)[0], edited)

        self.delayDisplay("Fine-tune one epoch: the model version changes when the new model is promoted")
        versionBefore = logic.refreshServerInfo().model_version
        progress = logic.startTraining({"max_epochs": 1})
        deadline = time.monotonic() + float(os.environ.get(TRAINING_TIMEOUT_ENV, "1800"))
        while not progress.finished:
            self.assertLess(time.monotonic(), deadline, f"training did not finish: {progress.describe()}")
            slicer.app.processEvents()
            time.sleep(TRAINING_POLL_MS / 1000)
            progress = logic.pollTraining()
        self.assertEqual(progress.state, "done", progress.describe())
        promoted = (progress.result or {}).get("promoted", True)
        versionAfter = logic.refreshServerInfo().model_version
        self.assertEqual(versionAfter != versionBefore, promoted, f"{versionBefore} -> {versionAfter}")
        logging.info(progress.describe())
        self.delayDisplay("Annotation cycle passed")
