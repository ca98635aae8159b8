/** Default library file, in the working directory. */
export const DEFAULT_LIBRARY_PATH = 'music_library.db'
