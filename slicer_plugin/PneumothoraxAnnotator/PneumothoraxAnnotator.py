"""3D Slicer module: annotate pneumothorax on chest X-rays with a ptxseg MONAI Label server.

Module / Widget / Logic / Test as Slicer's scripted-module template lays them out. The Widget only mirrors
``logic.session``, runs the Logic's network steps off the GUI thread and hands their results back on it; the
Logic (no GUI) chains network and MRML steps; the MRML work itself lives in ``PneumothoraxAnnotatorLib.mrml``
(tested on slicer-core) and everything else in ``PneumothoraxAnnotatorLib`` (tested with pytest).
Needs Slicer 5.4 or newer (parameter node wrappers, ``SourceRepresentationModified``).
"""

import logging
import os
import time
import unittest
from pathlib import Path
from typing import Annotated

import numpy as np
import qt
import slicer
from PneumothoraxAnnotatorLib import (
    DEFAULT_MODEL,
    STRATEGIES,
    AnnotationSession,
    ClientError,
    NotFound,
    Prediction,
    PtxsegClient,
    ServerBusy,
    ServerInfo,
    TrainingProgress,
)
from PneumothoraxAnnotatorLib.background import BackgroundCall, Cancelled
from PneumothoraxAnnotatorLib.display import display_settings
from PneumothoraxAnnotatorLib.downloads import DownloadFolder
from PneumothoraxAnnotatorLib.mrml import labels, overlay, segments, volumes
from PneumothoraxAnnotatorLib.training import PollBackoff
from PneumothoraxAnnotatorLib.training_options import TrainingOptions
from slicer import vtkMRMLScalarVolumeNode, vtkMRMLSegmentationNode
from slicer.parameterNodeWrapper import WithinRange, parameterNodeWrapper
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin

SEGMENT_ID = segments.SEGMENT_ID
SERVER_URL_ENV = "PTXSEG_SERVER_URL"
SERVER_TOKEN_ENV = "PTXSEG_SERVER_TOKEN"
TRAINING_TIMEOUT_ENV = "PTXSEG_TRAINING_TIMEOUT_S"
DEFAULT_SERVER_URL = "http://127.0.0.1:8000"
TRAINING_POLL_MS = 2000
BACKGROUND_CHECK_MS = 100
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
        self.parent.contributors = ["ptxseg maintainers (ptxseg project)"]
        self.parent.helpText = """
Annotate pneumothorax on chest X-rays with a ptxseg MONAI Label server: get the next image by active
learning or from the triage worklist, see the model's outline and probability map, correct the outline with
the Segment Editor (or accept it as is), submit it, and fine-tune the model on the submitted labels.
Shortcuts: N next image, B back, P predict, A accept prediction as is, S submit. Needs Slicer 5.4 or newer.
"""
        self.parent.acknowledgementText = """
Uses MONAI Label's REST API and the EfficientNet-B4 U-Net of the ptxseg project.
"""

    def runTest(self, msec=100, **kwargs):
        """What *Reload and Test* calls: a skip is reported as such instead of as a failure popup.

        Under a unittest runner (``slicer.testing.runUnitTest``) the Test's own skip is reported by the runner.
        """
        try:
            ScriptedLoadableModule.runTest(self, msec, **kwargs)
        except unittest.SkipTest as skipped:
            message = f"{self.moduleName} self-test skipped: {skipped}"
            logging.info(message)
            slicer.util.showStatusMessage(message, 10000)
            return "skipped"
        return "passed"


@parameterNodeWrapper
class PneumothoraxAnnotatorParameterNode:
    """Scene-saved state: the open image, its segmentation and probability map, and the session options."""

    imageVolume: vtkMRMLScalarVolumeNode
    segmentation: vtkMRMLSegmentationNode
    probability: vtkMRMLScalarVolumeNode
    strategy: str = STRATEGIES[0]
    autoPredict: bool = True
    autoNext: bool = True
    showProbability: bool = True
    overlayOpacity: Annotated[float, WithinRange(0.0, 1.0)] = 0.4
    maxEpochs: Annotated[int, WithinRange(1, 1000)] = 1


class PneumothoraxAnnotatorWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    """Mirrors ``logic.session`` in the GUI, turns clicks and shortcuts into Logic calls, keeps the network off
    the GUI thread (one call at a time, with a busy bar and Cancel)."""

    def __init__(self, parent=None):
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._shortcuts = []
        self._shownWorklist = None
        self._call = None
        self._callDone = None
        self._callWhat = ""
        self._callTimer = None
        self._trainingTimer = None
        self._trainingCall = None

    def setup(self):
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/PneumothoraxAnnotator.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)

        self.logic = PneumothoraxAnnotatorLogic()
        self.logic.sessionChangedCallback = self.updateGUIFromSession
        self.logic.saveUndoState = self._saveUndoState

        self.ui.serverComboBox.lineEdit().setPlaceholderText(DEFAULT_SERVER_URL)
        self._loadServerHistory()
        self.ui.strategyComboBox.addItems(list(STRATEGIES))
        self.ui.worklistTable.setColumnCount(len(WORKLIST_COLUMNS))
        self.ui.worklistTable.setHorizontalHeaderLabels(list(WORKLIST_COLUMNS))
        self.ui.worklistTable.setEditTriggers(qt.QAbstractItemView.NoEditTriggers)
        self.ui.worklistTable.setSelectionBehavior(qt.QAbstractItemView.SelectRows)
        self.ui.embeddedSegmentEditorWidget.setMRMLScene(slicer.mrmlScene)
        self.ui.embeddedSegmentEditorWidget.setMRMLSegmentEditorNode(self.logic.getSegmentEditorNode())

        self._callTimer = qt.QTimer()
        self._callTimer.setInterval(BACKGROUND_CHECK_MS)
        self._callTimer.connect("timeout()", self._onCallTimer)
        self._trainingTimer = qt.QTimer()
        self._trainingTimer.setSingleShot(True)
        self._trainingTimer.connect("timeout()", self._onTrainingTimer)

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)

        self.ui.connectButton.connect("clicked(bool)", self.onConnect)
        self.ui.strategyComboBox.connect("currentTextChanged(QString)", self.onStrategyChanged)
        self.ui.nextImageButton.connect("clicked(bool)", self.onNextImage)
        self.ui.backButton.connect("clicked(bool)", self.onBack)
        self.ui.predictButton.connect("clicked(bool)", self.onPredict)
        self.ui.acceptButton.connect("clicked(bool)", self.onAccept)
        self.ui.submitButton.connect("clicked(bool)", self.onSubmit)
        self.ui.opacitySlider.connect("valueChanged(int)", self.onOpacityChanged)
        self.ui.thresholdSlider.connect("valueChanged(int)", self.onThresholdChanged)
        self.ui.startTrainingButton.connect("clicked(bool)", self.onStartTraining)
        self.ui.stopTrainingButton.connect("clicked(bool)", self.onStopTraining)
        self.ui.scoreButton.connect("clicked(bool)", self.onScore)
        self.ui.refreshWorklistButton.connect("clicked(bool)", self.onRefreshWorklist)
        self.ui.worklistTable.connect("cellDoubleClicked(int,int)", self.onWorklistDoubleClicked)
        self.ui.cancelButton.connect("clicked(bool)", self.onCancel)

        self.initializeParameterNode()
        self.updateGUIFromSession()

    def cleanup(self):
        self._callTimer.stop()
        self._trainingTimer.stop()
        if self._call is not None:
            self._call.cancel()
        self._removeShortcuts()
        self.removeObservers()
        self.logic.downloads.clear()

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
        self.logic.closeImage()

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

    # Network off the GUI thread

    def _runInBackground(self, what, work, done):
        """Run ``work()`` in a worker thread, then ``done(result)`` here; one call at a time."""
        if self._call is not None:
            slicer.util.showStatusMessage(f"Still busy: {self._callWhat}. Wait for it or press Cancel.", 3000)
            return
        self._call, self._callDone, self._callWhat = BackgroundCall(work), done, what
        self.ui.busyProgressBar.setFormat(what)
        self.ui.busyProgressBar.visible = self.ui.cancelButton.visible = True
        self._callTimer.start()

    def _onCallTimer(self):
        if self._call is None or not self._call.done:
            return
        call, done, what = self._call, self._callDone, self._callWhat
        self._call = self._callDone = None
        self._callTimer.stop()
        self.ui.busyProgressBar.visible = self.ui.cancelButton.visible = False
        try:
            result = call.result()
        except Cancelled:
            slicer.util.showStatusMessage(f"Cancelled: {what}", 3000)
            return
        except Exception as error:
            slicer.util.errorDisplay(f"{what} failed: {error}", windowTitle="Pneumothorax Annotator")
            return
        with slicer.util.tryWithErrorDisplay(f"{what} failed.", waitCursor=True):
            done(result)

    def onCancel(self):
        if self._call is not None:
            self._call.cancel()

    # Actions

    def onConnect(self):
        serverUrl = self.ui.serverComboBox.currentText.strip() or DEFAULT_SERVER_URL
        token = self.ui.tokenLineEdit.text.strip() or None
        self._runInBackground(
            f"Connecting to {serverUrl}", lambda: self.logic.fetchServerInfo(serverUrl, token), self._connected
        )

    def _connected(self, fetched):
        info = self.logic.setConnection(*fetched)
        self._saveServerHistory(self.logic.client.server_url)
        self._showStrategies(info)
        self._loadTrainingOptions()
        if info.warning:
            slicer.util.warningDisplay(info.warning, windowTitle="Pneumothorax Annotator")
        self._trainingTimer.start(0)  # shows a fine-tuning already running on the server
        self.onRefreshWorklist()

    def onStrategyChanged(self, strategy):
        if self._parameterNode and strategy:
            self._parameterNode.strategy = strategy

    def onNextImage(self):
        if not self.logic.session.can_next or not self._mayLeaveImage():
            return
        strategy = self._parameterNode.strategy

        def work():
            imageId = self.logic.nextImage(strategy)
            return None if imageId is None else self.logic.fetchImage(imageId)

        self._runInBackground("Getting the next image", work, self._imageFetched)

    def onBack(self):
        previous = self.logic.session.previous_image_id
        if previous is None or not self.logic.session.connected or not self._mayLeaveImage():
            return
        self._runInBackground(
            f"Reopening {previous}",
            lambda: self.logic.fetchImage(previous, withLabel=True),
            lambda fetched: self._imageFetched(fetched, goingBack=True),
        )

    def onWorklistDoubleClicked(self, row, column):
        item = self.ui.worklistTable.item(row, 0)
        if item is None or not self.logic.session.connected or not self._mayLeaveImage():
            return
        imageId = item.data(qt.Qt.UserRole)
        self._runInBackground(f"Opening {imageId}", lambda: self.logic.fetchImage(imageId), self._imageFetched)

    def _imageFetched(self, fetched, goingBack=False):
        if fetched is None:
            slicer.util.infoDisplay("The server has no more images to annotate with this strategy.")
            return
        self.logic.showImage(fetched, goingBack)
        self._showInSegmentEditor()
        if self._parameterNode.autoPredict and fetched["labelPath"] is None:
            self._predict()

    def onPredict(self):
        session = self.logic.session
        if not session.can_predict:
            return
        if session.prediction_replaces_edits and not slicer.util.confirmOkCancelDisplay(
            "Predict replaces your unsubmitted edits with the model's outline (Undo brings them back). Go on?"
        ):
            return
        self._predict()

    def _predict(self):
        imageId, withProbability = self.logic.session.image_id, self._parameterNode.showProbability
        self._runInBackground(
            "Predicting", lambda: self.logic.fetchPrediction(imageId, withProbability), self.logic.showPrediction
        )

    def onAccept(self):
        if self.logic.session.can_accept_prediction:
            self.logic.acceptPrediction()

    def onSubmit(self):
        if not self.logic.session.can_submit:
            if self.logic.session.prediction is not None and not self.logic.session.submitted:
                slicer.util.showStatusMessage("Edit the outline or press Accept prediction as is (A) first.", 4000)
            return
        self.ui.embeddedSegmentEditorWidget.setActiveEffect(None)
        with slicer.util.tryWithErrorDisplay("Submitting the label failed.", waitCursor=True):
            exported = self.logic.exportForSubmit(self._annotatorName())
            self._runInBackground("Submitting the label", lambda: self.logic.uploadLabel(exported), self._submitted)

    def _submitted(self, uploaded):
        self.logic.finishSubmit(uploaded)
        if self.logic.session.submitted and self._parameterNode.autoNext:
            self.onNextImage()

    def onOpacityChanged(self, value):
        if self._parameterNode:
            self._parameterNode.overlayOpacity = value / 100
            self.logic.showOverlay(value / 100)

    def onThresholdChanged(self, value):
        self.ui.thresholdLabel.text = f"Threshold: {value / 100:.2f}"
        if self._parameterNode and self._parameterNode.probability is not None:
            with slicer.util.tryWithErrorDisplay("Re-cutting the outline failed."):
                self.logic.recutMask(value / 100)

    def onStartTraining(self):
        if not self.logic.session.can_start_training:
            return
        with slicer.util.tryWithErrorDisplay("Check the fine-tuning options."):
            options = self._trainingOptions()
            self._saveTrainingOptions(options)
            self._runInBackground(
                "Starting fine-tuning", lambda: self.logic.startTraining(options), self._trainingStarted
            )

    def _trainingStarted(self, fetched):
        delay = self.logic.showTrainingStatus(fetched)
        if delay is not None:
            self._trainingTimer.start(int(1000 * delay))

    def onStopTraining(self):
        self._runInBackground("Stopping fine-tuning", self.logic.stopTraining, self.logic.showTrainingStatus)

    def _onTrainingTimer(self):
        """Polls in its own worker so Predict and Submit never wait behind a slow training answer."""
        if self._trainingCall is None:
            if self.logic.session.connected:
                self._trainingCall = BackgroundCall(self.logic.fetchTrainingStatus)
                self._trainingTimer.start(BACKGROUND_CHECK_MS)
            return
        if not self._trainingCall.done:
            self._trainingTimer.start(BACKGROUND_CHECK_MS)
            return
        call, self._trainingCall = self._trainingCall, None
        try:
            delay = self.logic.showTrainingStatus(call.result())
        except ClientError as error:
            delay = self.logic.showTrainingPollFailure(error)
        if delay is not None and self.logic.session.training.state != "idle":
            self._trainingTimer.start(int(1000 * delay))

    def onScore(self):
        self._runInBackground("Starting scoring", self.logic.startScoring, self._scoringStarted)

    def _scoringStarted(self, answer):
        self.ui.statusLabel.text = "Scoring unlabelled images; press Refresh to see new scores."

    def onRefreshWorklist(self):
        self._runInBackground("Loading the worklist", self.logic.fetchWorklist, self.logic.showWorklist)

    def updateGUIFromSession(self):
        """Enable what the session allows now and show where it stands."""
        session = self.logic.session
        self.ui.nextImageButton.enabled = session.can_next
        self.ui.backButton.enabled = session.can_go_back
        self.ui.predictButton.enabled = session.can_predict
        self.ui.acceptButton.enabled = session.can_accept_prediction
        self.ui.submitButton.enabled = session.can_submit
        self.ui.startTrainingButton.enabled = session.can_start_training
        self.ui.stopTrainingButton.enabled = session.can_stop_training
        self.ui.scoreButton.enabled = session.can_refresh_worklist
        self.ui.refreshWorklistButton.enabled = session.can_refresh_worklist
        hasMap = bool(self._parameterNode and self._parameterNode.probability is not None)
        self.ui.opacitySlider.enabled = self.ui.thresholdSlider.enabled = hasMap
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

    def _saveUndoState(self):
        # qMRMLSegmentEditorWidget's own saveStateForUndo is not scriptable; every effect forwards to it.
        effect = self.ui.embeddedSegmentEditorWidget.effectByName("Paint")
        if effect is not None:
            effect.saveStateForUndo()

    @staticmethod
    def _annotatorName():
        """The user's name from Slicer's settings (Application Settings > User), for the label's info."""
        try:
            return slicer.app.applicationLogic().GetUserInformation().GetName()
        except AttributeError:
            return None

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

    def _trainingOptions(self):
        """The options panel as TrainingOptions; 0 means the server's default."""
        return TrainingOptions(
            epochs=self._parameterNode.maxEpochs,
            learning_rate=self.ui.learningRateSpinBox.value or None,
            batch_size=self.ui.batchSizeSpinBox.value or None,
            val_fraction=self.ui.valFractionSpinBox.value or None,
        )

    def _trainingOptionsKey(self):
        return f"{self.moduleName}/trainingOptions/{self.logic.client.server_url}"

    def _saveTrainingOptions(self, options):
        qt.QSettings().setValue(self._trainingOptionsKey(), options.to_json())

    def _loadTrainingOptions(self):
        options = TrainingOptions.from_json(qt.QSettings().value(self._trainingOptionsKey()))
        self._parameterNode.maxEpochs = options.epochs
        self.ui.learningRateSpinBox.value = options.learning_rate or 0
        self.ui.batchSizeSpinBox.value = options.batch_size or 0
        self.ui.valFractionSpinBox.value = options.val_fraction or 0

    def _installShortcuts(self):
        self._removeShortcuts()
        keys = (("N", self.onNextImage), ("B", self.onBack), ("P", self.onPredict), ("A", self.onAccept))
        for key, callback in (*keys, ("S", self.onSubmit)):
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


class PneumothoraxAnnotatorLogic(ScriptedLoadableModuleLogic):
    """The annotation cycle without GUI: usable from the Python console, the Test and the Widget.

    Network steps (``fetch*``, ``upload*``) touch no MRML and may run in a worker thread; the MRML steps
    (``show*``) run on the GUI thread; ``openImage``, ``predict`` and ``submit`` chain both for scripts and the
    Test. Keeps ``session`` (PneumothoraxAnnotatorLib.AnnotationSession) in step with the scene and calls
    ``sessionChangedCallback`` after every change.
    """

    def __init__(self):
        ScriptedLoadableModuleLogic.__init__(self)
        self.client = None
        self.session = AnnotationSession()
        self.sessionChangedCallback = None
        # The Segment Editor's undo snapshot, set by the Widget; a script without the editor has no undo.
        self.saveUndoState = None
        self.downloads = DownloadFolder(Path(slicer.app.temporaryPath) / "PneumothoraxAnnotator")
        self.downloads.clear()  # what a crashed session left behind holds patient data
        self.trainingBackoff = PollBackoff(TRAINING_POLL_MS / 1000)
        self._editObservers = []
        self._ownChange = False

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

    # Connection

    @staticmethod
    def fetchServerInfo(serverUrl, token=None):
        """Network: a client for ``serverUrl`` and what its ``/info/`` and ``/monitoring/`` say."""
        client = PtxsegClient(serverUrl, token=token)
        return client, ServerInfo.from_info(client.info()).with_monitoring(client.monitoring())

    def setConnection(self, client, info):
        self.client = client
        self.session.connect(client.server_url, info)
        self._sessionChanged()
        return info

    def connect(self, serverUrl, token=None):
        """Connect to a server; returns what its ``/info/`` says (ServerInfo)."""
        return self.setConnection(*self.fetchServerInfo(serverUrl, token))

    def refreshServerInfo(self):
        """Re-read ``/info/`` (model version, label counts)."""
        client = self._client()
        return self.setConnection(client, ServerInfo.from_info(client.info()).with_monitoring(client.monitoring()))

    # Images

    def nextImage(self, strategy):
        """Network: the next image id by an active learning strategy, None when none is left."""
        return self._client().next_image(strategy)

    def fetchImage(self, imageId, withLabel=False):
        """Network: download an image (and its submitted label when asked) into a fresh folder of its own."""
        client = self._client()
        folder = self.downloads.for_image(imageId)
        labelPath = None
        if withLabel:
            try:
                labelPath = client.download_label(imageId, folder)
            except NotFound:
                labelPath = None
        return {"imageId": imageId, "imagePath": client.download_image(imageId, folder), "labelPath": labelPath}

    def showImage(self, fetched, goingBack=False):
        """Show a fetched image as the model sees it, with a fresh segmentation (and its submitted label)."""
        parameterNode = self.getParameterNode()
        previousVolume, previousOverlay = parameterNode.imageVolume, parameterNode.probability
        volumeNode = volumes.load_volume(self._volumesLogic(), fetched["imagePath"], fetched["imageId"])
        volumes.apply_display(volumeNode, display_settings(fetched["imagePath"]))
        volumeNode.SetAttribute(IMAGE_ID_ATTRIBUTE, fetched["imageId"])
        self._replaceSegmentation(volumeNode)
        parameterNode.imageVolume = volumeNode
        parameterNode.probability = None
        for node in (previousVolume, previousOverlay):
            if node is not None:
                slicer.mrmlScene.RemoveNode(node)
        self._showInSliceViews(volumeNode)
        self.session.open_image(fetched["imageId"], going_back=goingBack)
        if fetched["labelPath"] is not None:
            self._setMaskAsOwnChange(labels.read_server_label(self._volumesLogic(), fetched["labelPath"], volumeNode))
            self.session.set_stored_label()
        self._sessionChanged()
        return volumeNode

    def openImage(self, imageId, goingBack=False):
        """Download and show an image (going back: with its submitted label)."""
        return self.showImage(self.fetchImage(imageId, withLabel=goingBack), goingBack)

    def closeImage(self):
        """Forget the open image and remove its downloaded files."""
        self.session.close_image()
        self.downloads.clear()
        self._sessionChanged()

    # Prediction

    def fetchPrediction(self, imageId, withProbability=True):
        """Network: the server's mask file, probability map file (or None) and result JSON for an image."""
        client = self._client()
        folder = self.downloads.current or self.downloads.for_image(imageId)
        labelPath, result = client.infer(imageId, folder)
        probabilityPath = client.infer(imageId, folder, probability=True)[0] if withProbability else None
        return {"imageId": imageId, "labelPath": labelPath, "probabilityPath": probabilityPath, "result": result}

    def showPrediction(self, fetched):
        """Put the model's outline in the segment (undoable) and its probability map in the overlay."""
        self._requireImage()
        if fetched["imageId"] != self.session.image_id:
            raise ValueError(f"the prediction is for {fetched['imageId']}, but {self.session.image_id} is open")
        parameterNode = self.getParameterNode()
        volumeNode = parameterNode.imageVolume
        mask = labels.read_server_label(self._volumesLogic(), fetched["labelPath"], volumeNode)
        if fetched["probabilityPath"] is not None:
            parameterNode.probability = overlay.load_probability(
                self._volumesLogic(), fetched["probabilityPath"], volumeNode, parameterNode.probability
            )
            self.showOverlay(parameterNode.overlayOpacity)
        self._setMaskAsOwnChange(mask, saveState=True)
        prediction = Prediction.from_result(fetched["result"])
        self.session.set_prediction(prediction)
        self._sessionChanged()
        return prediction

    def predict(self):
        """Run the server's model on the open image and show its outline; returns Prediction."""
        self._requireImage()
        withProbability = self.getParameterNode().showProbability
        return self.showPrediction(self.fetchPrediction(self.session.image_id, withProbability))

    def showOverlay(self, opacity):
        """Show the probability map (when there is one) at ``opacity`` in [0, 1]; 0 hides it."""
        probability = self.getParameterNode().probability
        overlay.show_overlay(slicer.mrmlScene, probability if opacity > 0 else None, opacity)

    def recutMask(self, threshold):
        """Replace the segment by the probability map cut at ``threshold`` (an edit by the annotator, undoable)."""
        parameterNode = self.getParameterNode()
        if parameterNode.probability is None:
            raise ValueError("There is no probability map for this image: press Predict (P) first.")
        return overlay.cut_mask(
            parameterNode.segmentation,
            parameterNode.imageVolume,
            parameterNode.probability,
            threshold,
            save_state=self.saveUndoState,
        )

    def acceptPrediction(self):
        """The annotator keeps the model's outline unedited (recorded with the label)."""
        self.session.accept_prediction()
        self._sessionChanged()

    # The mask

    def segmentArray(self):
        """Every segment merged into one (rows, columns) uint8 array on the image's grid."""
        parameterNode = self.getParameterNode()
        return segments.read_mask(slicer.mrmlScene, parameterNode.segmentation, parameterNode.imageVolume)

    def setSegmentArray(self, mask):
        """Replace the pneumothorax segment with a (rows, columns) mask, as an edit by the annotator."""
        parameterNode = self.getParameterNode()
        segments.set_mask(parameterNode.segmentation, parameterNode.imageVolume, mask, save_state=self.saveUndoState)

    def exportLabel(self, path):
        """Write every segment merged (value 1 = pneumothorax) as a label file exactly on the image's grid.

        Raises:
            SegmentMissing: no segment is left; the empty pneumothorax segment is recreated for drawing.
        """
        parameterNode = self.getParameterNode()
        try:
            return labels.export_label(
                self._volumesLogic(), parameterNode.segmentation, parameterNode.imageVolume, path
            )
        except segments.SegmentMissing:
            segments.ensure_segment(parameterNode.segmentation)
            raise

    # Submission

    def exportForSubmit(self, annotator):
        """MRML: the label file and its info (who labelled it, accepted as is or edited) for ``uploadLabel``."""
        self._requireImage()
        if not self.session.can_submit:
            raise ValueError("Edit the outline, or press Accept prediction as is, before submitting.")
        folder = self.downloads.current or self.downloads.for_image(self.session.image_id)
        path = self.exportLabel(folder / "label.nrrd")
        return {"imageId": self.session.image_id, "labelPath": path, "info": self.session.submission_info(annotator)}

    def uploadLabel(self, exported):
        """Network: store the exported label as the image's final label; returns what was sent."""
        self._client().upload_label(exported["imageId"], exported["labelPath"], exported["info"])
        return exported

    def finishSubmit(self, uploaded):
        if uploaded["imageId"] == self.session.image_id:
            self.session.mark_submitted()
        self._sessionChanged()

    def submit(self, annotator=None):
        """Upload the segment as the image's final label with who labelled it."""
        self.finishSubmit(self.uploadLabel(self.exportForSubmit(annotator)))

    # Fine-tuning

    def startTraining(self, options):
        """Network: start fine-tuning with TrainingOptions; then the first progress."""
        self._client().start_training(options.to_params())
        return self.fetchTrainingStatus()

    def fetchTrainingStatus(self):
        """Network: the training task record, and the server's info once the task ended (new model version)."""
        status = self._client().training_status()
        progress = TrainingProgress.from_status(status)
        return {"progress": progress, "info": self._client().info() if progress.finished else None}

    def showTrainingStatus(self, fetched):
        """Record a poll's answer; returns seconds to the next poll (None: stop polling)."""
        self.trainingBackoff.succeeded()
        self.session.update_training(fetched["progress"])
        if fetched["info"] is not None:
            self.session.connect(self.client.server_url, ServerInfo.from_info(fetched["info"]))
        self._sessionChanged()
        return None if fetched["progress"].finished else self.trainingBackoff.delay_s

    def showTrainingPollFailure(self, error):
        """Record a failed poll: contact lost, polling goes on with back-off; returns seconds to the next poll."""
        delay = self.trainingBackoff.failed()
        self.session.update_training(TrainingProgress.unreachable(self.session.training, str(error), delay))
        self._sessionChanged()
        return delay

    def pollTraining(self):
        """One poll, synchronously (scripts and the Test)."""
        self.showTrainingStatus(self.fetchTrainingStatus())
        return self.session.training

    def stopTraining(self):
        """Network: stop the running fine-tuning; then the progress."""
        self._client().stop_training()
        return self.fetchTrainingStatus()

    # Worklist

    def startScoring(self):
        """Network: let the server score the unlabelled images; None when a scoring already runs."""
        try:
            return self._client().start_scoring()
        except ServerBusy:
            return None  # MONAI Label also scores on its own; the running task fills the worklist the same way

    def fetchWorklist(self):
        """Network: the worklist rows, most likely pneumothorax first."""
        return self._client().worklist(current_model_version=self.session.server.model_version)

    def showWorklist(self, rows):
        self.session.set_worklist(rows)
        self._sessionChanged()
        return rows

    def refreshWorklist(self):
        return self.showWorklist(self.fetchWorklist())

    # Helpers

    @staticmethod
    def gridOf(volumeNode):
        """The pixel grid of a volume node (PneumothoraxAnnotatorLib.grid.Grid)."""
        return volumes.grid_of(volumeNode)

    @staticmethod
    def imageShape(volumeNode):
        """(rows, columns) of a single-slice volume."""
        return volumes.image_shape(volumeNode)

    def onSegmentationEdited(self):
        if not self._ownChange:
            self.session.mark_edited()
            self._sessionChanged()

    def _replaceSegmentation(self, volumeNode):
        """A new segmentation node for each image, so the Segment Editor's undo history starts empty."""
        parameterNode = self.getParameterNode()
        self._stopWatchingEdits()
        node = segments.new_segmentation(slicer.mrmlScene, volumeNode, parameterNode.segmentation)
        parameterNode.segmentation = node
        segmentation = node.GetSegmentation()
        self._editObservers = [(segmentation, tag) for tag in segments.watch_edits(node, self.onSegmentationEdited)]

    def _stopWatchingEdits(self):
        for segmentation, tag in self._editObservers:
            segmentation.RemoveObserver(tag)
        self._editObservers = []

    def _setMaskAsOwnChange(self, mask, saveState=False):
        parameterNode = self.getParameterNode()
        self._ownChange = True
        try:
            segments.set_mask(
                parameterNode.segmentation,
                parameterNode.imageVolume,
                mask,
                save_state=self.saveUndoState if saveState else None,
            )
        finally:
            self._ownChange = False

    @staticmethod
    def _volumesLogic():
        return slicer.modules.volumes.logic()

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
        self.setUp()
        self.test_panel_works_off_the_gui_thread()

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

        self.delayDisplay("Predict: the outline and the probability map lie on the image's grid")
        prediction = logic.predict()
        self.assertTrue(prediction.probability is None or 0.0 <= prediction.probability <= 1.0)
        self.assertTrue(logic.gridOf(logic.getParameterNode().probability).matches(logic.gridOf(volumeNode)))
        self.assertFalse(logic.session.can_submit, "an unreviewed prediction must not be submittable")

        self.delayDisplay("Edit: erase the left half, add a block on the right")
        rows, columns = logic.imageShape(volumeNode)
        edited = logic.segmentArray().copy()
        edited[:, : columns // 2] = 0
        edited[rows // 8 : rows // 4, 5 * columns // 8 : 3 * columns // 4] = 1
        logic.setSegmentArray(edited)
        self.assertTrue(logic.session.edited, "editing the segment marks the session edited")

        self.delayDisplay("Submit: the server stores exactly the edited mask, with who labelled it")
        imageId = logic.session.image_id
        logic.submit("PneumothoraxAnnotatorTest")
        self.assertTrue(logic.session.submitted)
        storedPath = logic.client.download_label(imageId, logic.downloads.current)
        np.testing.assert_array_equal(labels.read_server_label(logic._volumesLogic(), storedPath, volumeNode), edited)
        info = logic.client.datastore()["objects"][imageId]["labels"]["final"]["info"]
        self.assertEqual(info.get("annotator"), "PneumothoraxAnnotatorTest")

        self.delayDisplay("Back: the next image, then the submitted one again with its label")
        logic.openImage(logic.nextImage("random"))
        logic.openImage(logic.session.previous_image_id, goingBack=True)
        self.assertEqual(logic.session.image_id, imageId)
        np.testing.assert_array_equal(logic.segmentArray(), edited)

        self.delayDisplay("Fine-tune one epoch: the model version changes when the new model is promoted")
        versionBefore = logic.refreshServerInfo().model_version
        progress = logic.startTraining(TrainingOptions(epochs=1))["progress"]
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
        logic.closeImage()
        self.assertFalse(logic.downloads.root.exists(), "downloaded studies must not stay behind")
        self.delayDisplay("Annotation cycle passed")

    def test_panel_works_off_the_gui_thread(self):
        """The Qt layer: buttons start background calls, Cancel drops one, sliders act, Submit needs a review."""
        serverUrl = os.environ.get(SERVER_URL_ENV)
        if not serverUrl:
            self.skipTest(f"set {SERVER_URL_ENV} to a running ptxseg server")
        slicer.util.selectModule("PneumothoraxAnnotator")
        widget = slicer.modules.pneumothoraxannotator.widgetRepresentation().self()
        widget._parameterNode.autoNext = False
        widget.ui.serverComboBox.setCurrentText(serverUrl)
        widget.ui.tokenLineEdit.text = os.environ.get(SERVER_TOKEN_ENV, "")
        widget.ui.connectButton.click()
        self._waitUntilIdle(widget)
        self.assertTrue(widget.logic.session.connected)

        self.delayDisplay("Next image: opened and predicted in the background")
        widget.ui.nextImageButton.click()
        self._waitUntilIdle(widget)
        self.assertIsNotNone(widget.logic.session.prediction)
        self.assertFalse(widget.ui.submitButton.enabled, "an unreviewed prediction cannot be submitted")
        widget.ui.acceptButton.click()
        self.assertTrue(widget.ui.submitButton.enabled)

        self.delayDisplay("Cancel drops a running call")
        widget.ui.predictButton.click()
        self.assertTrue(widget.ui.cancelButton.visible)
        widget.ui.cancelButton.click()
        self._waitUntilIdle(widget)
        self.assertFalse(widget.ui.busyProgressBar.visible)

        self.delayDisplay("Opacity and threshold sliders")
        widget.ui.opacitySlider.value = 70
        composite = slicer.mrmlScene.GetNodeByID("vtkMRMLSliceCompositeNodeRed")
        self.assertAlmostEqual(composite.GetForegroundOpacity(), 0.7)
        widget.ui.thresholdSlider.value = 30
        self.assertTrue(widget.logic.session.edited, "re-cutting the outline is an edit")

        widget.ui.submitButton.click()
        self._waitUntilIdle(widget)
        self.assertTrue(widget.logic.session.submitted)
        self.delayDisplay("Panel passed")

    def _waitUntilIdle(self, widget, timeoutS=300):
        """Let Qt run until the widget has had no background call for half a second (calls may chain)."""
        deadline, idleSince = time.monotonic() + timeoutS, None
        while time.monotonic() < deadline:
            slicer.app.processEvents()
            time.sleep(0.05)
            if widget._call is not None:
                idleSince = None
            elif idleSince is None:
                idleSince = time.monotonic()
            elif time.monotonic() - idleSince > 0.5:
                return
        self.fail(f"still busy after {timeoutS} s: {widget._callWhat}")
