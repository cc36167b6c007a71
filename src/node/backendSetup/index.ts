export { SetupError, mapFailure, pythonNotFound, pythonTooOld, venvMissing, MIN_PYTHON } from './errors';
export type { SetupErrorKind } from './errors';
export { setUpBackend, backendState, findPython, probePython, runProcess, venvPython, sourceFingerprint, PipProgress, isSupported } from './setup';
export type { PythonInfo, BackendState, SetupOptions, SetupProgress, SetupResult } from './setup';
