/** Importing this module registers every experiment. */
import "./env/tiny";
import "./g2lstm/ptb";
import "./g2lstm/translation";
import "./sg/ptb";
import "./sdropout/ptb";
import "./sdropout/sequence-tasks";
import "./atn/synthetic";
import "./ncgru/synthetic";
import "./atn/char-ptb";
import "./ncgru/char-ptb";
